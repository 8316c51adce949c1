import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Adapter, Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { createBackend } from './backends/registry.js';
import { insecureDefaults } from './config/production.js';
import type { Config } from './config/schema.js';
import { createDirectory } from './directory/create-directory.js';
import { createGroupFilter } from './directory/group-filter.js';
import { createIdTokenSigner } from './keys/id-token-signer.js';
import type { PrivateJwk } from './keys/jwk.js';
import { createKeyRing, keyRingConfig } from './keys/create-key-ring.js';
import { loadCookieKeys } from './keys/load-keys.js';
import { kubernetesRoutes } from './kubernetes/routes.js';
import { clientIpOf, trustProxyOf } from './web/client-ip.js';
import { providerDirect } from './web/provider-direct.js';
import { createLogger } from './logging/logger.js';
import { createAuditLog } from './observability/audit.js';
import { instrumentAdapter, instrumentBackend, instrumentDirectory } from './observability/instrument.js';
import { createMetrics, metricsRoutes } from './observability/metrics.js';
import { createSecurityEvents } from './observability/security-events.js';
import { createAccountStore } from './oidc/account-store.js';
import { contextStorageGate, providerContextStorage } from './oidc/context-storage.js';
import { logProviderEvents } from './oidc/events.js';
import { enforceDevicePollInterval } from './oidc/device-poll-interval.js';
import { createAccountResolver } from './oidc/find-account.js';
import { revokeGrantsOnLogout } from './oidc/logout-revocation.js';
import { registerPasswordGrant } from './oidc/password-grant.js';
import { createProvider } from './oidc/provider.js';
import { createProviderRef, providerHandler } from './oidc/provider-ref.js';
import { createGrantRevoker } from './oidc/revoke-grant.js';
import { createRevocationList } from './oidc/revocations.js';
import { withStoreErrors } from './oidc/store-errors.js';
import { packageRoot } from './paths.js';
import { createListener, listenerTlsOf } from './server/listen.js';
import { createStore } from './store/create-store.js';
import { createMemoryDevicePollGate, createRedisDevicePollGate, type DevicePollGate } from './store/device-poll-gate.js';
import { createMemoryLoginThrottle, createRedisLoginThrottle, type LoginThrottle } from './store/login-throttle.js';
import { appMessageClasses } from './web/app-messages.js';
import { healthRoutes } from './web/health.js';
import { HOME_CLIENT_ID, homeRoutes } from './web/home.js';
import type { DirectRequestDeps } from './web/direct-request.js';
import { interactionPages } from './web/interactions.js';
import { oobRoutes } from './web/oob.js';
import type { PasswordCheckDeps } from './web/password-check.js';
import { createNameFingerprint } from './logging/name-fingerprint.js';
import { createInFlightLimit } from './web/in-flight-limit.js';
import { createProviderPages } from './web/provider-pages.js';
import { createRenderer } from './web/render.js';
import { wellKnownFastPath } from './web/well-known-cache.js';
import { longestGrantSeconds } from './config/sections/tokens.js';

export interface RunningUnixid {
  /** Base URL the server listens on (http(s)://host:port). */
  url: string;
  server: HttpServer | HttpsServer;
  logger: Logger;
  /** Stop accepting, finish in-flight requests within the grace period, release everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  production: boolean;
  /** Override the process logger (tests). */
  logger?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The composition root: builds every part from the validated config, wires them by hand and
 * starts the listener. Rejects when a dependency cannot be set up (bad keys, an unusable policy
 * file, production refusing insecure defaults); a Redis that is down at start is retried in the
 * background and reported by /readyz.
 */
export async function startUnixid(config: Config, options: StartOptions): Promise<RunningUnixid> {
  const logger = options.logger ?? createLogger({ level: config.logging.level });
  const started = process.hrtime.bigint();

  const insecure = insecureDefaults(config);
  if (options.production && insecure.length > 0) {
    throw new Error(`refusing to start in production (NODE_ENV=production):\n${insecure.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
  }
  for (const p of insecure) logger.warn({ key: p.path }, `INSECURE DEFAULT: ${p.message}`);

  // Observability first: everything below reports into it.
  const metrics = createMetrics({ routes: [config.kubernetes.webhook.path, config.kubernetes.authorization.path, config.kubernetes.basicAuthToken.path, config.observability.metrics.path] });
  const audit = createAuditLog(config.observability.audit.file ? { file: config.observability.audit.file } : {});

  const store = createStore(config.store, logger);
  const cookieKeys = await loadCookieKeys({ cookieKeys: config.keys.cookieKeys, dataDir: config.dataDir, allowGenerate: !options.production }, logger);
  // Keyed by the cookie key every replica shares, so a name's fingerprint is the same in all of them.
  const fingerprint = createNameFingerprint(cookieKeys[0]);
  const events = createSecurityEvents(metrics, audit, fingerprint);
  const keyRing = await createKeyRing(keyRingConfig(config), {
    ...(store.redis ? { redis: store.redis } : {}),
    keyPrefix: config.store.keyPrefix,
    logger,
    production: options.production,
    audit,
  });
  // Every user of the store (provider, accounts, revocations, webhooks) sees an outage as 503 'temporarily unavailable'.
  const Adapter: new (name: string) => Adapter = withStoreErrors(store.kind === 'redis' ? instrumentAdapter(store.Adapter, metrics) : store.Adapter);

  const directory = instrumentDirectory(createDirectory(config.nss, logger), metrics);
  const backend = instrumentBackend(await createBackend(config, { directory, groupFilter: createGroupFilter(config.groups), logger }), metrics);

  const lifetime = longestGrantSeconds(config.tokens);
  const accounts = createAccountStore(Adapter);
  const revocations = createRevocationList(Adapter, lifetime);
  // One answer to "who is the client" for express, the direct provider path, the password grant and refresh.
  const trustProxy = trustProxyOf(config.server.trustProxy);
  const clientIp = clientIpOf(trustProxy);
  const resolver = createAccountResolver({
    clientIp,
    accounts,
    revocations,
    backends: new Map([[backend.type, backend]]),
    logger,
    accountTtlSeconds: lifetime,
    recentCheckMs: 10_000,
    onRefreshDenied: events.refreshDenied,
  });

  let gate: LoginThrottle | undefined;
  if (config.throttle.enabled) {
    const limits = { username: config.throttle.username, ip: config.throttle.ip, allowList: config.throttle.allowList, onBan: events.ban };
    gate = store.redis ? createRedisLoginThrottle(store.redis, { ...limits, keyPrefix: config.store.keyPrefix }) : createMemoryLoginThrottle(limits);
  }
  const inFlight = createInFlightLimit({ max: config.throttle.maxInFlightPerAddress, allowList: config.throttle.allowList });
  const passwords: PasswordCheckDeps = { backend, logger, onLogin: events.login, minResponseMs: config.throttle.minResponseMs, fingerprint, inFlight, ...(gate ? { gate } : {}) };

  // One gate for every provider instance, so a key rotation keeps the polls already recorded (memory store).
  const pollInterval = config.tokens.deviceCodePollIntervalSeconds;
  let devicePolls: DevicePollGate | undefined;
  if (pollInterval > 0) {
    const polling = { intervalSeconds: pollInterval, codeLifetimeSeconds: config.tokens.deviceCodeSeconds };
    devicePolls = store.redis ? createRedisDevicePollGate(store.redis, { ...polling, keyPrefix: config.store.keyPrefix }) : createMemoryDevicePollGate(polling);
  }

  const renderer = createRenderer({ viewsDir: join(packageRoot(), 'views') });
  const revokeGrant = createGrantRevoker(Adapter);
  /** One provider instance for a set of signing keys, with everything unixid hangs on it. */
  const buildProvider = (signingKeys: PrivateJwk[]): Provider => {
    const provider = createProvider({ config, adapter: Adapter, signingKeys, cookieKeys, resolver, pages: createProviderPages(renderer, logger), logger, clientIp });
    logProviderEvents(provider, logger, events.tokensIssued);
    revokeGrantsOnLogout(provider, revokeGrant, logger, events.logout);
    if (config.kubernetes.passwordGrant) registerPasswordGrant({ provider, passwords, resolver, clientIp });
    if (devicePolls) enforceDevicePollInterval({ provider, gate: devicePolls, intervalSeconds: pollInterval, logger, onSlowDown: metrics.devicePollSlowDown });
    return provider;
  };
  const provider = createProviderRef(buildProvider(keyRing.current().signing));
  // oidc-provider takes its keys at construction: a rotation swaps in a new instance (state is in the store).
  keyRing.onChange((set) => {
    provider.swap(buildProvider(set.signing));
    logger.info({ kids: set.signing.map((k) => k.kid), version: set.version }, 'signing keys changed: provider rebuilt');
  });
  // One handler into oidc-provider for express's fallback and the direct routes, which switches
  // oidc-provider's context storage off while no request is inside it (context-storage.ts).
  const toProvider = providerHandler(provider, contextStorageGate(await providerContextStorage()));

  const kube = await kubernetesRoutes({
    config,
    Adapter,
    verificationKeys: () => keyRing.current().verification,
    onKeysChange: (listener) => keyRing.onChange(listener),
    signer: createIdTokenSigner(() => keyRing.current().signing),
    provider,
    passwords,
    resolver,
    revocations,
    events,
    logger,
  });
  const { webhookThread } = kube;

  let accepting = true;
  // HSTS only means something when browsers reach the issuer over https.
  const hsts = config.issuer.startsWith('https:');
  // What every request served before express needs to get what express gives the others.
  const beforeExpress: DirectRequestDeps = { hsts, logger, clientIp, observe: metrics.observeWhenDone };
  const firstParty = new Set([HOME_CLIENT_ID, ...config.clients.filter((c) => c.firstParty).map((c) => c.client_id)]);
  const app = createApp({
    provider: toProvider,
    renderer,
    logger,
    trustProxy,
    hsts,
    routers: [
      metrics.httpMiddleware(),
      healthRoutes({
        accepting: () => accepting,
        checks: [
          { name: 'store', check: () => store.ready() },
          { name: 'keys', check: async () => ({ ok: keyRing.current().signing.length > 0 }) },
          { name: 'backend', check: () => backend.health() },
          ...(webhookThread ? [{ name: 'webhook', check: async () => ({ ok: webhookThread.running() }) }] : []),
        ],
      }),
      ...(config.observability.metrics.enabled ? [metricsRoutes(metrics, config.observability.metrics.path)] : []),
      ...kube.routers,
      homeRoutes({ provider, resolver, renderer, logger, issuer: config.issuer, kubernetes: config.kubernetes }),
      oobRoutes(renderer),
    ],
  });

  // oidc-provider's discovery path is fixed; the JWKS path follows its `routes` (the app mounts it at the root).
  const wellKnown = wellKnownFastPath({
    paths: ['/.well-known/openid-configuration', provider.current.pathFor('jwks', { mountPath: '' })],
    provider,
    hsts,
    onServed: metrics.observeHttp,
  });

  const kubeRoutes = config.kubernetes;
  const direct = providerDirect({
    provider: toProvider,
    authorizationPath: provider.current.pathFor('authorization', { mountPath: '' }),
    tokenPath: provider.current.pathFor('token', { mountPath: '' }),
    reserved: [
      ...(kubeRoutes.webhook.enabled ? [{ path: kubeRoutes.webhook.path }] : []),
      ...(kubeRoutes.authorization.enabled ? [{ path: kubeRoutes.authorization.path }] : []),
      ...(kubeRoutes.basicAuthToken.enabled ? [{ path: kubeRoutes.basicAuthToken.path, method: 'GET' }] : []),
      ...(config.observability.metrics.enabled ? [{ path: config.observability.metrics.path }] : []),
    ],
    ...beforeExpress,
  });

  // The login page and form post, on every browser login (their paths, /interaction/<uid>/..., are no one else's).
  const interactions = interactionPages({
    provider,
    passwords,
    resolver,
    renderer,
    firstPartyClients: firstParty,
    ...beforeExpress,
  });

  const listener = createListener(
    // Every request and response is built with express's prototypes (app-messages.ts).
    { logger, tls: listenerTlsOf(config.server.tls), messages: appMessageClasses(app) },
    (req, res) => {
      if (kube.fastPath?.(req, res)) return;
      wellKnown(req, res, () => {
        if (!direct(req, res) && !interactions(req, res)) app(req, res);
      });
    },
  );
  const { server } = listener;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${listener.scheme}://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}`;
  logger.info(
    { url, issuer: config.issuer, backend: backend.type, store: store.kind, startupMs: Number(process.hrtime.bigint() - started) / 1e6 },
    'unixid is listening',
  );

  return {
    url,
    server,
    logger,
    async close() {
      // Readiness goes false first, so load balancers stop sending before the listener closes.
      accepting = false;
      if (config.server.shutdownDelaySeconds > 0) await sleep(config.server.shutdownDelaySeconds * 1000);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.server.shutdownGraceSeconds * 1000);
      timer.unref();
      // Both listeners drain at once, within the one grace period.
      await Promise.all([closed, webhookThread?.close(config.server.shutdownGraceSeconds * 1000)]);
      clearTimeout(timer);
      listener.close();
      kube.close();
      await backend.close();
      await directory.close();
      await keyRing.close();
      await store.close();
      await audit.close();
      logger.info('unixid stopped');
    },
  };
}
