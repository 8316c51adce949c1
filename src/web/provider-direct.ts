import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProviderHandler } from '../oidc/provider-ref.js';
import { beginDirectRequest, type DirectRequestDeps } from './direct-request.js';
import { routeKey } from './route-key.js';
import { sendBody } from './send-body.js';

/** A path unixid's own routes answer, for one method or all; the direct path never takes it. */
export interface ReservedRoute {
  path: string;
  method?: string;
}

export interface ProviderDirectDeps extends DirectRequestDeps {
  provider: ProviderHandler;
  /** oidc-provider's authorization endpoint (its resume is `<path>/<uid>`) and token endpoint, mounted at the root. */
  authorizationPath: string;
  tokenPath: string;
  /** unixid's configurable routes (the basic-auth `GET /token` by default): left to express when they collide. */
  reserved: readonly ReservedRoute[];
}

/**
 * oidc-provider's busiest endpoints served straight from node:http, before express: the
 * authorization request, its resume after the login form, and the token endpoint (every code
 * exchange and refresh). They get what express gives every request (request id, CSP nonce and
 * security headers, the access log line, the metrics) and then oidc-provider's own handler, as
 * they would at the end of express's chain. Express added about 0.17 ms of CPU to each (its
 * request and response prototypes, every router of unixid's pages tried in turn): half a
 * millisecond per browser login. Returns false for every other request (the caller hands it on).
 */
export function providerDirect(deps: ProviderDirectDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { authorizationPath: auth, tokenPath: token } = deps;
  const provider = deps.provider;

  // A reserved route is compared as express matches it.
  const reserved = deps.reserved.map((r) => ({ key: routeKey(r.path), method: r.method }));

  function wanted(method: string, path: string): boolean {
    const ours =
      method === 'POST' ? path === token || path === auth : method === 'GET' && (path === auth || (path.startsWith(auth + '/') && path.indexOf('/', auth.length + 1) < 0 && path.length > auth.length + 1));
    if (!ours) return false;
    const key = routeKey(path);
    return !reserved.some((r) => r.key === key && (r.method === undefined || r.method === method));
  }

  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (!wanted(req.method ?? '', q < 0 ? url : url.slice(0, q))) return false;
    const { locals } = beginDirectRequest(deps, req, res, url);
    provider(req, res).catch((err: unknown) => {
      // Koa answers its own errors; this is only reached when something fails outside it.
      deps.logger.error({ reqId: locals.requestId, err }, 'provider request failed');
      if (!res.headersSent) {
        sendBody(res, 500, 'text/plain; charset=utf-8', `Internal error (request id ${locals.requestId}).\n`, { 'Cache-Control': 'no-store' });
      } else res.destroy();
    });
    return true;
  };
}
