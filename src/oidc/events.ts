import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';

interface ProviderError extends Error {
  error?: string;
  error_description?: string;
  error_detail?: string;
  status?: number;
}

/** The oidc-provider events that end in an error, and what each one was doing. */
const ERROR_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'jwks.error',
  'check_session_origin.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'revocation.error',
  'server_error',
  'userinfo.error',
  'device_authorization.error',
  'code_verification.error',
] as const;

/**
 * Log why oidc-provider refused a request: the client only sees `invalid_grant`, so the operator
 * needs the detail (error_detail is never sent to the client). 5xx causes are logged as errors.
 */
export function logProviderEvents(provider: Provider, logger: Logger, onIssued?: (grantType: string) => void): void {
  for (const name of ERROR_EVENTS) {
    // The typings declare one overload per event; the handler below reads every one the same way.
    (provider.on as (event: string, handler: (...args: unknown[]) => void) => Provider)(name, (...args: unknown[]) => {
      const err = args.find((a): a is ProviderError => a instanceof Error);
      const ctx = args[0] as { oidc?: { client?: { clientId?: string }; route?: string }; get?: (h: string) => string } | undefined;
      const fields = {
        event: name,
        route: ctx?.oidc?.route,
        clientId: ctx?.oidc?.client?.clientId,
        error: err?.error ?? err?.name,
        description: err?.error_description,
        detail: err?.error_detail,
      };
      if (name === 'server_error' || (err?.status ?? 400) >= 500) logger.error({ ...fields, err }, 'provider error');
      else logger.info(fields, 'provider refused a request');
    });
  }
  // Koa prints errors that escape the provider to stderr as plain text unless someone listens:
  // keep them in the JSON log instead.
  (provider.on as (event: string, handler: (...args: unknown[]) => void) => Provider)('error', (err: unknown) => {
    logger.error({ err }, 'provider request failed');
  });
  provider.on('grant.success', (ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    logger.info({ clientId: ctx.oidc.client?.clientId, grantType, accountId: ctx.oidc.account?.accountId }, 'tokens issued');
    onIssued?.(grantType);
  });
}
