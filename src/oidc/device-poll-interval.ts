import { parse } from 'node:querystring';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { DevicePollGate } from '../store/device-poll-gate.js';
import { routeKey } from '../web/route-key.js';
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
 * the RFC's 5 s) nor ever answers slow_down. One middleware on the provider's koa stack, around
 * its routing:
 *
 * - before: a urlencoded POST to the token endpoint is read with peekBody (the bytes are left for
 *   oidc-provider, which parses them itself); a device_code grant is shown to the gate's check(),
 *   and a poll of a code with a record that came too soon is answered 400 slow_down there, without
 *   oidc-provider or the DeviceCode record being asked. A code without a record (its first poll,
 *   or one made up) goes through and nothing is written: the client is not authenticated yet. Every
 *   other token request goes on as it came.
 * - after: when oidc-provider answered that poll authorization_pending (or slow_down), the client
 *   is authenticated and the code is real, pending and its own, so the poll is recorded (the
 *   gate's record()); any other answer (tokens, expired_token, invalid_grant, invalid_client,
 *   access_denied…) records nothing. A successful device authorization response gets `interval`.
 *
 * Fails open: when the gate's store fails the poll goes through (the grant then answers from the
 * store, or fails as it would have) or goes unrecorded, and a warning without the code is logged.
 * The device code is never logged. oidc-provider's router takes a path case-insensitively and with
 * one trailing slash, and so does this, or `POST /TOKEN/` would poll past the gate. Never throws
 * at registration; a request it answers itself gets what oidc-provider would have said about an
 * unreadable body (400 invalid_request) or 400 slow_down.
 */
export function enforceDevicePollInterval(deps: DevicePollIntervalDeps): void {
  const { provider, gate, intervalSeconds, logger } = deps;
  const tokenPath = routeKey(provider.pathFor('token', { mountPath: '' }));

  /** The id unixid gave this request (request-context.ts), for the log lines below. */
  const requestId = (ctx: KoaContext): string | undefined => (ctx.res as unknown as { locals?: { requestId?: string } }).locals?.requestId;

  /**
   * Before oidc-provider: `answered` when this middleware has answered the request itself (slow_down,
   * or an unreadable body), else the device code of a device_code poll, if it is one.
   */
  async function beforeGrant(ctx: KoaContext): Promise<{ answered: true } | { answered: false; deviceCode?: string }> {
    const reqId = requestId(ctx);
    let body: Buffer | undefined;
    try {
      body = await peekBody(ctx.req);
    } catch (err) {
      if (!(err instanceof BodyReadError)) throw err;
      // What oidc-provider answers for a body it cannot read; the bytes read so far are gone.
      logger.info({ reqId, err: err.message }, 'token request body unreadable');
      answer(ctx, 'invalid_request', 'failed to parse the request body');
      return { answered: true };
    }
    if (!body) return { answered: false };
    const params = parse(body.toString('utf8'));
    // Repeated parameters are oidc-provider's to refuse; only a single device_code is gated.
    if (params.grant_type !== DEVICE_CODE_GRANT || typeof params.device_code !== 'string' || params.device_code === '') return { answered: false };
    const deviceCode = params.device_code;

    let slowDown: boolean;
    let intervalMs: number;
    try {
      ({ slowDown, intervalMs } = await gate.check(deviceCode));
    } catch (err) {
      logger.warn({ reqId, err: err instanceof Error ? err.message : String(err) }, 'device poll gate unavailable: the poll goes through unchecked');
      return { answered: false, deviceCode };
    }
    if (!slowDown) return { answered: false, deviceCode };

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
    return { answered: true };
  }

  // The requests oidc-provider refused with authorization_pending or slow_down. Its error handler
  // emits grant.error with the error object whether the answer is written as JSON or as an HTML
  // page (Accept: text/html), so this does not depend on the body's form.
  const pendingAnswers = new WeakSet<object>();
  provider.on('grant.error', (ctx, err) => {
    const code = (err as { error?: unknown } | undefined)?.error;
    if (code === 'authorization_pending' || code === 'slow_down') pendingAnswers.add(ctx);
  });

  /** oidc-provider answered the device_code poll of `deviceCode` pending: the code is real and the authenticated client's. */
  function answeredPending(ctx: KoaContext, deviceCode: string): boolean {
    const params = ctx.oidc?.params;
    return ctx.status === 400 && pendingAnswers.has(ctx) && ctx.oidc?.route === 'token' && params?.grant_type === DEVICE_CODE_GRANT && params.device_code === deviceCode;
  }

  provider.use(async (ctx, next) => {
    let deviceCode: string | undefined;
    if (ctx.method === 'POST' && routeKey(ctx.path) === tokenPath && ctx.is('application/x-www-form-urlencoded')) {
      const seen = await beforeGrant(ctx);
      if (seen.answered) return;
      deviceCode = seen.deviceCode;
    }
    await next();
    if (deviceCode !== undefined && answeredPending(ctx, deviceCode)) {
      // Awaited, so that the client's next poll, sent after this answer, finds the record.
      try {
        await gate.record(deviceCode);
      } catch (err) {
        logger.warn({ reqId: requestId(ctx), err: err instanceof Error ? err.message : String(err) }, 'device poll gate unavailable: the poll is not recorded');
      }
    }
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && isRecord(ctx.body)) ctx.body.interval = intervalSeconds;
  });
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
