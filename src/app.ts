import express, { type Express, type RequestHandler, type Router } from 'express';
import type { ProviderHandler } from './oidc/provider-ref.js';
import type { Logger } from 'pino';
import { accessLog } from './web/access-log.js';
import { errorHandler } from './web/error-handler.js';
import { requestContext } from './web/request-context.js';
import type { TrustProxy } from './web/client-ip.js';
import type { Renderer } from './web/render.js';
import { securityHeaders } from './web/security-headers.js';

export interface AppDeps {
  /** oidc-provider, for every request none of the routers answered. */
  provider: ProviderHandler;
  renderer: Renderer;
  logger: Logger;
  /** server.trustProxy as one trust function, shared with everything else that asks for the client address. */
  trustProxy: TrustProxy;
  hsts: boolean;
  /** Routers mounted before the provider, in order (metrics, health, Kubernetes webhooks, home page). */
  routers: Array<Router | RequestHandler>;
}

/**
 * The express application: request id and security headers, unixid's own routes, then
 * oidc-provider for everything else (discovery, JWKS, authorize, token, ...), then one error page.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.set('query parser', 'simple');
  // Every page unixid renders is no-store; an ETag would only cost a hash of each body.
  app.set('etag', false);
  app.use(requestContext());
  app.use(accessLog(deps.logger));
  app.use(securityHeaders({ hsts: deps.hsts }));
  for (const r of deps.routers) app.use(r);
  app.use((req, res) => deps.provider(req, res));
  app.use(errorHandler({ renderer: deps.renderer, logger: deps.logger }));
  return app;
}
