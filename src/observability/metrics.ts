import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export type LoginOutcome = 'success' | 'failure' | 'throttled' | 'unavailable' | 'invalid';
export type RefreshOutcome = 'ok' | 'denied' | 'unavailable';
export type TokenReviewOutcome = 'authenticated' | 'rejected' | 'error' | 'malformed';
const REVIEW_OUTCOMES: readonly TokenReviewOutcome[] = ['authenticated', 'rejected', 'error', 'malformed'];
export type ThrottleScope = 'username' | 'ip';
export type BackendKind = 'pam' | 'ldap' | 'nss' | 'redis';

/** unixid's Prometheus series, over a registry of its own. Recording never throws. */
export interface Metrics {
  registry: Registry;
  /** unixid_logins_total{backend,outcome} */
  login(backend: string, outcome: LoginOutcome): void;
  /** unixid_refreshes_total{outcome} */
  refresh(outcome: RefreshOutcome): void;
  /** unixid_token_reviews_total{outcome} */
  /** One review, or `count` of them (the webhook thread reports in batches). */
  tokenReview(outcome: TokenReviewOutcome, count?: number): void;
  /** unixid_authorization_reviews_total{decision} */
  authorization(decision: string): void;
  /** unixid_login_throttled_total{scope} */
  throttled(scope: ThrottleScope): void;
  /** unixid_tokens_issued_total{grant_type} */
  tokensIssued(grantType: string): void;
  /** unixid_device_poll_slow_downs_total: device-code polls answered slow_down (sooner than the code's interval). */
  devicePollSlowDown(): void;
  /** unixid_backend_duration_seconds{kind,result} */
  observeBackend(kind: BackendKind, seconds: number, ok: boolean): void;
  /** unixid_http_request_duration_seconds{route,method,status}, route being a fixed group, never the raw path. */
  httpMiddleware(): RequestHandler;
  /** The same for a request answered before express (recorded when it finishes, or 499 when the client left first). */
  observeWhenDone(req: IncomingMessage, res: ServerResponse): void;
  /** Record one answer in the same series, for requests answered outside express; `path` as received (grouped here). */
  observeHttp(path: string, method: string, status: number | string, seconds: number): void;
  /** Run fn and observe its duration as ok or error; resolves or rejects exactly as fn does. */
  time<T>(kind: BackendKind, fn: () => Promise<T>): Promise<T>;
}

export interface MetricsOptions {
  /** Also collect the process and Node.js runtime metrics (CPU, memory, event-loop lag, GC). Default true. */
  collectDefault?: boolean;
  /** Prefix of unixid's own series (default 'unixid_'); the default process metrics keep their standard names. */
  prefix?: string;
  /** Extra exact paths that get a route label of their own (e.g. configured webhook or metrics paths). */
  routes?: Iterable<string>;
}

// Paths served by unixid and oidc-provider (its default routes), labelled as themselves. Anything
// else is 'other': a label per raw path would let any client create series without bound.
const KNOWN_ROUTES = [
  '/',
  '/healthz',
  '/readyz',
  '/metrics',
  '/login',
  '/callback',
  '/kubeconfig',
  '/oob',
  '/authenticate',
  '/authorize',
  '/auth',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/jwks',
  '/.well-known/openid-configuration',
  '/me',
  '/device',
  '/device/auth',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/reg',
  '/request',
  '/backchannel',
  '/favicon.ico',
];

// Paths with an id in them (interaction uid, resumed authorization): the id becomes ':uid'.
const PATTERNS: Array<[RegExp, string]> = [
  [/^\/interaction\/[^/]+$/, '/interaction/:uid'],
  [/^\/interaction\/[^/]+\/(login|confirm|abort)$/, '/interaction/:uid/$1'],
  [/^\/auth\/[^/]+$/, '/auth/:uid'],
  [/^\/device\/[^/]+$/, '/device/:uid'],
];

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:openid:params:grant-type:ciba',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'basic_auth', // unixid's own curl -u token endpoint
]);

/** The low-cardinality route label of a request path (query ignored); unknown paths are 'other'. Never throws. */
export function routeGroup(path: string, extraRoutes: ReadonlySet<string> = new Set()): string {
  let p = path.split('?')[0] ?? '/';
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (KNOWN_ROUTES.includes(p) || extraRoutes.has(p)) return p;
  for (const [re, label] of PATTERNS) {
    if (re.test(p)) return p.replace(re, label);
  }
  return 'other';
}

// Free-form label values from callers are clamped so a bug upstream cannot explode the series count.
function clampLabel(value: string): string {
  return /^[A-Za-z0-9_.:-]{1,40}$/.test(value) ? value : 'other';
}

/** Build unixid's metrics on a private registry (several can coexist, e.g. in tests). Never throws for valid options. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const prefix = options.prefix ?? 'unixid_';
  const extraRoutes = new Set(options.routes ?? []);
  if (options.collectDefault ?? true) collectDefaultMetrics({ register: registry });

  const logins = new Counter({
    name: `${prefix}logins_total`,
    help: 'Login attempts by credential backend and outcome.',
    labelNames: ['backend', 'outcome'] as const,
    registers: [registry],
  });
  const refreshes = new Counter({
    name: `${prefix}refreshes_total`,
    help: 'Refresh-token grants by outcome (denied: the account or its groups no longer pass).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Reviews are counted in plain numbers and added to the counter when it is read (a scrape):
  // prom-client's labelled increment hashes the labels on every call, ≈ 0.4 µs of each
  // uncached kubectl request's ≈ 85 µs.
  const pendingReviews: Record<TokenReviewOutcome, number> = { authenticated: 0, rejected: 0, error: 0, malformed: 0 };
  const tokenReviews = new Counter({
    name: `${prefix}token_reviews_total`,
    help: 'TokenReview webhook answers by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      for (const outcome of REVIEW_OUTCOMES) {
        const count = pendingReviews[outcome];
        if (count === 0) continue;
        pendingReviews[outcome] = 0;
        this.inc({ outcome }, count);
      }
    },
  });
  const authorizations = new Counter({
    name: `${prefix}authorization_reviews_total`,
    help: 'SubjectAccessReview webhook answers by decision.',
    labelNames: ['decision'] as const,
    registers: [registry],
  });
  const throttles = new Counter({
    name: `${prefix}login_throttled_total`,
    help: 'Login attempts refused by the throttle, by the limit that tripped.',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const issued = new Counter({
    name: `${prefix}tokens_issued_total`,
    help: 'Token responses issued, by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const slowDowns = new Counter({
    name: `${prefix}device_poll_slow_downs_total`,
    help: 'Device-code polls of the token endpoint answered slow_down: sooner than the interval of their device code.',
    registers: [registry],
  });
  const backendDuration = new Histogram({
    name: `${prefix}backend_duration_seconds`,
    help: 'Duration of calls to PAM, LDAP, NSS and Redis.',
    labelNames: ['kind', 'result'] as const,
    // Up to 30 s: pam_unix sleeps ~2 s after a failure and a hung module runs into pam.timeoutMs.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: `${prefix}http_request_duration_seconds`,
    help: 'HTTP request duration by route group, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  // Series with a fixed label set start at 0, so rate() and absent() work before the first event.
  for (const outcome of ['ok', 'denied', 'unavailable'] as const) refreshes.inc({ outcome }, 0);
  for (const outcome of REVIEW_OUTCOMES) tokenReviews.inc({ outcome }, 0);
  for (const scope of ['username', 'ip'] as const) throttles.inc({ scope }, 0);

  const observeBackend = (kind: BackendKind, seconds: number, ok: boolean): void => {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    backendDuration.observe({ kind, result: ok ? 'ok' : 'error' }, seconds);
  };

  const observeHttp = (path: string, method: string, status: number | string, seconds: number): void => {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    httpDuration.observe({ route: routeGroup(path, extraRoutes), method: METHODS.has(method) ? method : 'OTHER', status: String(status) }, seconds);
  };

  const observeWhenDone = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    // The route is taken from the path as received, before any router rewrites req.url.
    const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl || req.url || '';
    let done = false;
    const record = (): void => {
      if (done) return;
      done = true;
      // A client that hung up before the answer was sent is counted as status 499 (nginx's convention).
      observeHttp(path, req.method ?? 'GET', res.writableFinished ? res.statusCode : 499, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', record);
    res.once('close', record);
  };

  return {
    registry,
    login: (backend, outcome) => logins.inc({ backend: clampLabel(backend), outcome }),
    refresh: (outcome) => refreshes.inc({ outcome }),
    tokenReview: (outcome, count = 1) => {
      pendingReviews[outcome] += count;
    },
    authorization: (decision) => authorizations.inc({ decision: clampLabel(decision) }),
    throttled: (scope) => throttles.inc({ scope }),
    tokensIssued: (grantType) => issued.inc({ grant_type: GRANT_TYPES.has(grantType) ? grantType : 'other' }),
    devicePollSlowDown: () => slowDowns.inc(),
    observeBackend,
    observeHttp,
    observeWhenDone,
    httpMiddleware() {
      return (req: Request, res: Response, next: NextFunction): void => {
        observeWhenDone(req, res);
        next();
      };
    },
    time<T>(kind: BackendKind, fn: () => Promise<T>): Promise<T> {
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      let running: Promise<T>;
      try {
        running = Promise.resolve(fn());
      } catch (err) {
        observeBackend(kind, seconds(), false);
        return Promise.reject(err);
      }
      // One then, not an async function around an await: this wraps every store call.
      return running.then(
        (value) => {
          observeBackend(kind, seconds(), true);
          return value;
        },
        (err: unknown) => {
          observeBackend(kind, seconds(), false);
          throw err;
        },
      );
    },
  };
}

/** GET `path`: the Prometheus text exposition of `metrics.registry`; a failing collector becomes a 500 via next(). */
export function metricsRoutes(metrics: Metrics, path = '/metrics'): Router {
  const router = Router();
  router.get(path, async (_req: Request, res: Response) => {
    const body = await metrics.registry.metrics();
    res.set('Content-Type', metrics.registry.contentType).set('Cache-Control', 'no-store').send(body);
  });
  return router;
}
