import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type RequestHandler } from 'express';
import type { Adapter } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { IdTokenSigner } from '../keys/id-token-signer.js';
import type { VerificationKey } from '../keys/jwk.js';
import type { AccountResolver } from '../oidc/find-account.js';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { RevocationList } from '../oidc/revocations.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { listenerTlsOf, requireClientCert } from '../server/listen.js';
import type { PasswordCheckDeps } from '../web/password-check.js';
import { createPolicyStore, type PolicyStore } from './authz-policy.js';
import { basicTokenRoutes } from './basic-token.js';
import { createGrantLiveness } from './grant-liveness.js';
import { subjectAccessReviewRoutes } from './subject-access-review.js';
import { createReviewVerifier, createTokenReviewer } from './token-review.js';
import { tokenReviewFastPath } from './token-review-http.js';
import { startWebhookThread, type WebhookThread } from './webhook-thread.js';

export interface KubernetesRouteDeps {
  config: Config;
  Adapter: new (name: string) => Adapter;
  /** The public keys in force (current and retired), read per verification. */
  verificationKeys: () => readonly VerificationKey[];
  /** Subscribes to key changes (the webhook thread is handed each new set). */
  onKeysChange: (listener: (set: { verification: readonly VerificationKey[] }) => void) => void;
  signer: IdTokenSigner;
  provider: ProviderRef;
  passwords: PasswordCheckDeps;
  resolver: AccountResolver;
  revocations: RevocationList;
  events: SecurityEvents;
  logger: Logger;
}

/**
 * The routes a cluster talks to: the TokenReview and SubjectAccessReview webhooks (behind the
 * client-certificate check when a client CA is configured) and the basic-auth token endpoint.
 * Rejects when the authorization policy cannot be loaded.
 */
export interface KubernetesRoutes {
  routers: Array<Router | RequestHandler>;
  /** The TokenReview webhook on the main port, answered before express. */
  fastPath?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** The TokenReview webhook on a port and thread of its own (kubernetes.webhook.port) instead. */
  webhookThread?: WebhookThread;
  close(): void;
}

/**
 * `router` with `check` in front of whatever it answers on `path`. The check is a route on the same
 * path, so it matches exactly what the router's own routes match (any case, a trailing slash):
 * comparing req.path by hand let `POST /Authorize` reach the policy without a client certificate.
 */
export function guardRoute(path: string, router: Router, check: RequestHandler): Router {
  const outer = Router();
  outer.all(path, check);
  outer.use(router);
  return outer;
}

export async function kubernetesRoutes(deps: KubernetesRouteDeps): Promise<KubernetesRoutes> {
  const { config, logger } = deps;
  const kube = config.kubernetes;
  const routers: Array<Router | RequestHandler> = [];
  let fastPath: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  const mtls = config.server.tls.clientCaFile ? requireClientCert({ logger }) : undefined;
  const guarded = (path: string, router: Router): Router => (mtls ? guardRoute(path, router, mtls) : router);

  const hook = kube.webhook;
  const revocation = hook.checkRevocation ? { revocation: createGrantLiveness(deps.Adapter, Date.now, deps.revocations) } : {};
  let webhookThread: WebhookThread | undefined;
  if (hook.enabled && hook.port !== undefined) {
    // A port of its own: served by its thread (webhook-thread.ts), not on the main port.
    webhookThread = await startWebhookThread({
      data: {
        port: hook.port,
        host: hook.host ?? config.server.host,
        path: hook.path,
        issuer: config.issuer,
        mapping: { clientId: kube.clientId, usernameClaim: kube.usernameClaim, usernamePrefix: kube.usernamePrefix, groupsClaim: kube.groupsClaim, groupsPrefix: kube.groupsPrefix },
        cacheMaxEntries: hook.cacheMaxEntries,
        checkRevocation: hook.checkRevocation,
        tls: listenerTlsOf(config.server.tls),
        logLevel: config.logging.level,
      },
      keys: deps.verificationKeys,
      ...revocation,
      onReview: (outcome, count) => deps.events.tokenReview(outcome, count),
      logger,
    });
    const thread = webhookThread;
    deps.onKeysChange((set) => thread.setKeys(set.verification));
  } else if (hook.enabled) {
    const verifier = createReviewVerifier({
      issuer: config.issuer,
      clientId: kube.clientId,
      mapping: kube,
      keys: deps.verificationKeys,
      cacheMaxEntries: kube.webhook.cacheMaxEntries,
    });
    const onReview = deps.events.tokenReview;
    // Answered before express (see token-review-http.ts): every method of the path ends there.
    fastPath = tokenReviewFastPath({
      path: kube.webhook.path,
      review: createTokenReviewer({ verifier, mapping: kube, ...revocation, logger, onReview }),
      requireClientCert: Boolean(mtls),
      onMalformed: () => onReview('malformed'),
    });
  }

  let policy: PolicyStore | undefined;
  if (kube.authorization.enabled) {
    if (!kube.authorization.policyFile) throw new Error('kubernetes.authorization.policyFile is required when the authorization webhook is enabled');
    policy = await createPolicyStore(kube.authorization.policyFile, logger, { watch: true });
    routers.push(guarded(kube.authorization.path, subjectAccessReviewRoutes({ path: kube.authorization.path, policy, logger, onDecision: deps.events.authorization })));
  }

  if (kube.basicAuthToken.enabled) {
    routers.push(
      basicTokenRoutes({
        path: kube.basicAuthToken.path,
        issuer: config.issuer,
        clientId: kube.clientId,
        defaultSeconds: Math.min(config.tokens.idTokenSeconds, kube.basicAuthToken.maxSeconds),
        maxSeconds: kube.basicAuthToken.maxSeconds,
        provider: deps.provider,
        passwords: deps.passwords,
        resolver: deps.resolver,
        signer: deps.signer,
        logger,
      }),
    );
  }
  return { routers, ...(fastPath ? { fastPath } : {}), ...(webhookThread ? { webhookThread } : {}), close: () => policy?.close() };
}
