import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { logWhenFinished } from './access-log.js';
import type { ClientIp } from './client-ip.js';
import { beginRequest, type RequestLocals } from './request-context.js';
import { setSecurityHeaders } from './security-headers.js';

/** What a request served before express needs to get what express's first middlewares give every request. */
export interface DirectRequestDeps {
  hsts: boolean;
  logger: Logger;
  clientIp: ClientIp;
  /** Metrics for the answer (unixid_http_request_duration_seconds). */
  observe(req: IncomingMessage, res: ServerResponse): void;
}

export interface DirectRequest {
  locals: RequestLocals;
  /** The client address by `server.trustProxy` (express's req.ip), worked out once when first asked. */
  ip(): string;
}

/**
 * The request id and CSP nonce, the security headers, the access log line and the metrics, for a
 * request served straight from node:http: the same as `createApp` puts in front of every route.
 */
export function beginDirectRequest(deps: DirectRequestDeps, req: IncomingMessage, res: ServerResponse, url: string): DirectRequest {
  const locals = beginRequest(req, res);
  setSecurityHeaders(res, locals.cspNonce, { hsts: deps.hsts });
  let ip: string | undefined;
  const clientIp = () => (ip ??= deps.clientIp(req));
  logWhenFinished(deps.logger, req, res, url, clientIp);
  deps.observe(req, res);
  return { locals, ip: clientIp };
}
