import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Adapter, Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { createBackend } from './backends/registry.js';
import { insecureDefaults } from './config/production.js';
import type { Config } from './config/schema.js';
import { createGroupFilter } from './directory/group-filter.js';
import { createDirectory } from './directory/create-directory.js';
import { loadKeys } from './keys/load-keys.js';
import { createLogger } from './logging/logger.js';
import { createAccountStore } from './oidc/account-store.js';
import { createAccountResolver } from './oidc/find-account.js';
import { createRevocationList } from './oidc/revocations.js';
import { logProviderEvents } from './oidc/events.js';
import { revokeGrantsOnLogout } from './oidc/logout-revocation.js';
import { createProvider } from './oidc/provider.js';
import { createProviderRef } from './oidc/provider-ref.js';
import type { PrivateJwk } from './keys/jwk.js';
import { createGrantRevoker } from './oidc/revoke-grant.js';
import { createGrantLiveness } from './kubernetes/grant-liveness.js';
import { createPolicyStore, type PolicyStore } from './kubernetes/authz-policy.js';
import { subjectAccessReviewRoutes } from './kubernetes/subject-access-review.js';
import { tokenReviewRoutes } from './kubernetes/token-review.js';
import { basicTokenRoutes } from './kubernetes/basic-token.js';
import { createTokenVerifier } from './kubernetes/token-verifier.js';
import { createIdTokenSigner } from './keys/id-token-signer.js';
import { registerPasswordGrant } from './oidc/password-grant.js';
import { type PasswordCheckDeps } from './web/password-check.js';
import { packageRoot } from './paths.js';
import { createStore } from './store/create-store.js';
import { healthRoutes } from './web/health.js';
import { HOME_CLIENT_ID, homeRoutes } from './web/home.js';
import { oobRoutes } from './web/oob.js';
import { interactionRoutes } from './web/interactions.js';
import { createProviderPages } from './web/provider-pages.js';
import { createRenderer } from './web/render.js';

export interface RunningUnixid {
  /** Base URL the server listens on (http://host:port). */
  url: string;
  server: Server;
  logger: Logger;
  /** Stop accepting, finish in-flight requests within the grace period, release everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  production: boolean;
  env: NodeJS.ProcessEnv;
  /** Override the process logger (tests). */
  logger?: Logger;
}

/**
 * The composition root: builds every part from the validated config, wires them by hand and
 * starts the HTTP server. Rejects when a dependency cannot be set up (bad keys, production
 * refusing insecure defaults); a Redis that is down at start is retried in the background.
 */
export async function startUnixid(config: Config, options: StartOptions): Promise<RunningUnixid> {
  const logger = options.logger ?? createLogger({ level: config.logging.level, pretty: config.logging.pretty });
  const started = process.hrtime.bigint();

  const insecure = insecureDefaults(config);
  if (options.production && insecure.length > 0) {
    throw new Error(`refusing to start in production (NODE_ENV=production):\n${insecure.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
  }
  for (const p of insecure) logger.warn({ key: p.path }, `INSECURE DEFAULT: ${p.message}`);

  const keys = await loadKeys(
    { signingKeyFile: config.keys.signingKeyFile, cookieKeys: config.keys.cookieKeys, dataDir: config.dataDir, allowGenerate: !options.production },
    logger,
  );
  const store = createStore(config.store, logger);
  const AdapterClass: new (name: string) => Adapter = store.Adapter;

  const groupFilter = createGroupFilter(config.groups);
  const directory = createDirectory(config.nss, logger);
  const backend = await createBackend(config, { directory, groupFilter, logger });

  const accounts = createAccountStore(AdapterClass);
  const revocations = createRevocationList(AdapterClass, config.tokens.refreshTokenSeconds + config.tokens.sessionSeconds);
  const resolver = createAccountResolver({
    accounts,
    revocations,
    backends: new Map([[backend.type, backend]]),
    logger,
    accountTtlSeconds: config.tokens.refreshTokenSeconds + config.tokens.sessionSeconds,
    recentCheckMs: 10_000,
  });

  const renderer = createRenderer({ viewsDir: join(packageRoot(), 'views') });
  const kube = config.kubernetes;
  const passwords: PasswordCheckDeps = { backend, logger };
  const revokeGrant = createGrantRevoker(AdapterClass);
  /** One provider instance for a set of signing keys, with everything unixid hangs on it. */
  const buildProvider = (signingKeys: PrivateJwk[]): Provider => {
    const provider = createProvider({ config, adapter: AdapterClass, signingKeys, cookieKeys: keys.cookieKeys, resolver, pages: createProviderPages(renderer, logger), logger });
    logProviderEvents(provider, logger);
    revokeGrantsOnLogout(provider, revokeGrant, logger);
    if (kube.passwordGrant) registerPasswordGrant({ provider, passwords, resolver });
    return provider;
  };
  const provider = createProviderRef(buildProvider(keys.signing));

  const kubeRoutes = [];
  if (kube.webhook.enabled) {
    const verifier = createTokenVerifier({
      issuer: config.issuer,
      audiences: [kube.clientId],
      keys: () => keys.verification,
      cacheMaxEntries: kube.webhook.cacheMaxEntries,
      groupsClaim: kube.groupsClaim,
    });
    kubeRoutes.push(
      tokenReviewRoutes({
        path: kube.webhook.path,
        verifier,
        mapping: kube,
        ...(kube.webhook.checkRevocation ? { revocation: createGrantLiveness(AdapterClass, Date.now, revocations) } : {}),
        logger,
      }),
    );
  }
  let policy: PolicyStore | undefined;
  if (kube.authorization.enabled) {
    if (!kube.authorization.policyFile) throw new Error('kubernetes.authorization.policyFile is required when the authorization webhook is enabled');
    policy = await createPolicyStore(kube.authorization.policyFile, logger, { watch: true });
    kubeRoutes.push(subjectAccessReviewRoutes({ path: kube.authorization.path, policy, logger }));
  }

  if (kube.basicAuthToken.enabled) {
    kubeRoutes.push(
      basicTokenRoutes({
        path: kube.basicAuthToken.path,
        issuer: config.issuer,
        clientId: kube.clientId,
        defaultSeconds: Math.min(config.tokens.idTokenSeconds, kube.basicAuthToken.maxSeconds),
        maxSeconds: kube.basicAuthToken.maxSeconds,
        provider,
        passwords,
        resolver,
        signer: createIdTokenSigner(() => keys.signing),
        logger,
      }),
    );
  }

  let accepting = true;
  const firstParty = new Set([HOME_CLIENT_ID, ...config.clients.filter((c) => c.firstParty).map((c) => c.client_id)]);
  const app = createApp({
    provider,
    renderer,
    logger,
    trustProxy: config.server.trustProxy,
    hsts: config.issuer.startsWith('https:'),
    routers: [
      healthRoutes({
        accepting: () => accepting,
        checks: [
          { name: 'store', check: () => store.ready() },
          { name: 'keys', check: async () => ({ ok: keys.signing.length > 0 }) },
          { name: 'backend', check: () => backend.health() },
        ],
      }),
      ...kubeRoutes,
      interactionRoutes({ provider, passwords, resolver, renderer, logger, firstPartyClients: firstParty }),
      homeRoutes({ provider, resolver, renderer, logger, issuer: config.issuer, kubernetes: kube }),
      oobRoutes(renderer),
    ],
  });

  const server = createServer(app);
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
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}`;
  logger.info(
    { url, issuer: config.issuer, backend: backend.type, store: store.kind, startupMs: Number(process.hrtime.bigint() - started) / 1e6 },
    'unixid is listening',
  );

  return {
    url,
    server,
    logger,
    async close() {
      accepting = false;
      const grace = config.server.shutdownGraceSeconds * 1000;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), grace);
      timer.unref();
      await closed;
      clearTimeout(timer);
      policy?.close();
      await backend.close();
      await directory.close();
      await store.close();
      logger.info('unixid stopped');
    },
  };
}
