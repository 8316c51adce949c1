import { parse } from 'node:querystring';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { DevicePollGate } from '../store/device-poll-gate.js';
import { BodyReadError, peekBody } from './peek-body.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DevicePollIntervalDeps {
  provider: Provider;
  gate: DevicePollGate;
  /** The interval the gate enforces, advertised as `interval` in every device authorization response. */
  intervalSeconds: number;
  logger: Logger;
  /** Told of each slow_down answer (metrics); what it throws is ignored. */
  onSlowDown?: () => void;
}

const CLIENT_ID_SHAPE = /^[\w.:@/-]{1,100}$/;

/** The koa context oidc-provider hands its middleware. */
type KoaContext = Parameters<Parameters<Provider['use']>[0]>[0];

/**
 * RFC 8628 §3.5 on oidc-provider 9, which neither advertises a polling interval (so clients use
 * the RFC's 5 s) nor ever answers slow_down. Two steps on the provider's koa stack:
 *
 * - before it routes: a urlencoded POST to the token endpoint is read with peekBody (the bytes are
 *   left for oidc-provider, which parses them itself); a device_code grant is shown to the gate,
 *   and a poll that came too soon is answered 400 slow_down there, without oidc-provider or the
 *   DeviceCode record being asked. Every other token request goes on as it came.
 * - after it answers: a successful device authorization response gets `interval`.
 *
 * Fails open: when the gate's store fails the poll goes through (the grant then answers from the
 * store, or fails as it would have) and a warning without the code is logged. The device code is
 * never logged. oidc-provider's router takes a path case-insensitively and with one trailing
 * slash, and so does this, or `POST /TOKEN/` would poll past the gate. Never throws at
 * registration; a request it answers itself gets what oidc-provider would have said about an
 * unreadable body (400 invalid_request) or 400 slow_down.
 */
export function enforceDevicePollInterval(deps: DevicePollIntervalDeps): void {
  const { provider, gate, intervalSeconds, logger } = deps;
  const tokenPath = routeKey(provider.pathFor('token', { mountPath: '' }));

  async function tooSoon(ctx: KoaContext): Promise<boolean> {
    // The id unixid gave this request (request-context.ts), for the log lines below.
    const reqId = (ctx.res as unknown as { locals?: { requestId?: string } }).locals?.requestId;
    let body: Buffer | undefined;
    try {
      body = await peekBody(ctx.req);
    } catch (err) {
      if (!(err instanceof BodyReadError)) throw err;
      // What oidc-provider answers for a body it cannot read; the bytes read so far are gone.
      logger.info({ reqId, err: err.message }, 'token request body unreadable');
      answer(ctx, 'invalid_request', 'failed to parse the request body');
      return true;
    }
    if (!body) return false;
    const params = parse(body.toString('utf8'));
    // Repeated parameters are oidc-provider's to refuse; only a single device_code is gated.
    if (params.grant_type !== DEVICE_CODE_GRANT || typeof params.device_code !== 'string' || params.device_code === '') return false;

    let slowDown: boolean;
    let intervalMs: number;
    try {
      ({ slowDown, intervalMs } = await gate.poll(params.device_code));
    } catch (err) {
      logger.warn({ reqId, err: err instanceof Error ? err.message : String(err) }, 'device poll gate unavailable: the poll goes through unchecked');
      return false;
    }
    if (!slowDown) return false;

    const seconds = Math.ceil(intervalMs / 1000);
    try {
      deps.onSlowDown?.();
    } catch {
      // A metrics hook must not turn a slow_down into an error.
    }
    // client_id as the client sent it (not yet authenticated): logged only when it looks like one.
    const clientId = typeof params.client_id === 'string' && CLIENT_ID_SHAPE.test(params.client_id) ? params.client_id : undefined;
    logger.debug({ reqId, clientId, intervalSeconds: seconds }, 'device-code poll too soon: slow_down');
    answer(ctx, 'slow_down', `polling too fast: wait at least ${seconds} seconds between polls of this device code`);
    return true;
  }

  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && routeKey(ctx.path) === tokenPath && ctx.is('application/x-www-form-urlencoded') && (await tooSoon(ctx))) return;
    await next();
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && isRecord(ctx.body)) ctx.body.interval = intervalSeconds;
  });
}

/** A path as oidc-provider's router compares it: one trailing slash dropped, case folded. */
function routeKey(path: string): string {
  return (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toUpperCase();
}

/** A token endpoint error as oidc-provider writes one: JSON, status 400, never cached. */
function answer(ctx: KoaContext, error: string, description: string): void {
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}
