import type { Logger } from 'pino';
import { fingerprint } from '../logging/logger.js';
import type { GrantLiveness } from './grant-liveness.js';
import type { VerificationKey } from '../keys/jwk.js';
import { createTokenVerifier, type TokenClaims, type TokenVerifier } from './token-verifier.js';
import { withDeadline } from '../deadline.js';

/** How token claims become the Kubernetes user (the same knobs as kube-apiserver's claim mappings). */
export interface ClaimMapping {
  usernameClaim: string;
  usernamePrefix: string;
  groupsClaim: string;
  groupsPrefix: string;
}

export type ReviewOutcome = 'authenticated' | 'rejected' | 'error' | 'malformed';

export interface TokenReviewDeps {
  verifier: TokenVerifier;
  mapping: ClaimMapping;
  /** When given, a token also needs its grant to be alive in the store (revocation the apiserver cannot do itself). */
  revocation?: GrantLiveness;
  /** How long a revocation lookup may take before it counts as "store unavailable" (default 2000 ms). */
  revocationTimeoutMs?: number;
  logger: Logger;
  /** Called once per review, for metrics. */
  onReview?: (outcome: ReviewOutcome) => void;
}

export interface KubernetesUser {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

const API_VERSIONS = new Set(['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1']);
const DEFAULT_REVOCATION_TIMEOUT_MS = 2000;
/** Largest TokenReview body accepted (a 16 KiB token and its envelope fit many times over). */
export const MAX_REVIEW_BYTES = 64 * 1024;
/**
 * Sent as `status.error` when the grant store cannot be asked. An answer with `error` is not cached by
 * the apiserver (CONTRACTS §2.4), so access comes back as soon as the store does.
 */
export const REVOCATION_UNAVAILABLE = 'revocation store unavailable';

type ParsedReview = { ok: true; apiVersion: string; token: string; audiences: string[] } | { ok: false; reason: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read a TokenReview as kube-apiserver sends it, ignoring `metadata` and `status` stubs. */
export function parseTokenReview(body: unknown): ParsedReview {
  if (!isObject(body)) return { ok: false, reason: 'body must be a JSON object' };
  const { apiVersion, kind, spec } = body;
  if (typeof apiVersion !== 'string' || !API_VERSIONS.has(apiVersion)) {
    return { ok: false, reason: 'apiVersion must be authentication.k8s.io/v1 or authentication.k8s.io/v1beta1' };
  }
  if (kind !== 'TokenReview') return { ok: false, reason: 'kind must be TokenReview' };
  if (!isObject(spec)) return { ok: false, reason: 'spec must be an object' };
  if (typeof spec.token !== 'string') return { ok: false, reason: 'spec.token must be a string' };
  const audiences = spec.audiences ?? [];
  if (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string')) {
    return { ok: false, reason: 'spec.audiences must be an array of strings' };
  }
  return { ok: true, apiVersion, token: spec.token, audiences };
}

function numericExtra(value: unknown): string[] | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return [String(value)];
  if (typeof value === 'string' && /^\d+$/.test(value)) return [value];
  return undefined;
}

/**
 * The Kubernetes user for verified claims, or a reason why there is none. Groups that would land in
 * the apiserver's reserved `system:` namespace are dropped, never passed on.
 */
export function mapUser(claims: TokenClaims, mapping: ClaimMapping): { ok: true; user: KubernetesUser } | { ok: false; reason: string } {
  const name = claims[mapping.usernameClaim];
  if (typeof name !== 'string' || name === '') return { ok: false, reason: `username claim ${mapping.usernameClaim} missing or not a string` };
  const username = mapping.usernamePrefix + name;
  // kube-apiserver refuses to let an external authenticator mint system users.
  if (username.startsWith('system:')) return { ok: false, reason: 'username is in the reserved system: namespace' };

  const raw = claims[mapping.groupsClaim];
  const list = raw === undefined || raw === null ? [] : typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || !list.every((g) => typeof g === 'string')) {
    return { ok: false, reason: `groups claim ${mapping.groupsClaim} is not a string or an array of strings` };
  }
  const groups = new Set<string>();
  for (const g of list) {
    if (g === '') continue;
    const group = mapping.groupsPrefix + g;
    if (!group.startsWith('system:')) groups.add(group);
  }

  const extra: Record<string, string[]> = {};
  const uidNumber = numericExtra(claims.uid_number);
  if (uidNumber) extra['unixid.io/uid-number'] = uidNumber;
  const gidNumber = numericExtra(claims.gid_number);
  if (gidNumber) extra['unixid.io/gid-number'] = gidNumber;

  return { ok: true, user: { username, uid: String(claims.sub), groups: [...groups], extra } };
}

/**
 * Every claim a review reads, for the verifier's `keepClaims`: the username and groups claims,
 * `sub` (the uid), the numeric ids that become `extra`, and what the revocation check sends.
 */
function reviewClaims(mapping: ClaimMapping): string[] {
  return [...new Set([mapping.usernameClaim, mapping.groupsClaim, 'sub', 'uid_number', 'gid_number', 'grant_id', 'iat'])];
}

export interface ReviewVerifierOptions {
  issuer: string;
  /** The client id kube-apiserver is configured with: the token's `aud` must contain it. */
  clientId: string;
  mapping: ClaimMapping;
  keys: () => readonly VerificationKey[];
  cacheMaxEntries: number;
}

/**
 * The verifier a TokenReview webhook uses, on the main port or its own thread: unixid's ID tokens
 * for the Kubernetes client, the groups claim checked as the mapping names it, and only the claims
 * a review reads kept in the cache.
 */
export function createReviewVerifier(options: ReviewVerifierOptions): TokenVerifier {
  return createTokenVerifier({
    issuer: options.issuer,
    audiences: [options.clientId],
    keys: options.keys,
    cacheMaxEntries: options.cacheMaxEntries,
    groupsClaim: options.mapping.groupsClaim,
    keepClaims: reviewClaims(options.mapping),
  });
}

/** One answered review, independent of the HTTP stack that carries it. */
export interface ReviewAnswer {
  status: number;
  body: unknown;
}

/** Answers a TokenReview body; at once when no store lookup is needed, else through a promise. Never throws or rejects. */
export type TokenReviewer = (body: unknown, reqId?: string) => ReviewAnswer | Promise<ReviewAnswer>;

/**
 * The TokenReview logic (authentication.k8s.io v1 and v1beta1), answered in the request's version.
 * Tokens that are not ours get `authenticated: false` without `error` (the apiserver caches that
 * and moves on); malformed bodies get 400 with a reason. Never rejects.
 */
export function createTokenReviewer(deps: TokenReviewDeps): TokenReviewer {
  const timeoutMs = deps.revocationTimeoutMs ?? DEFAULT_REVOCATION_TIMEOUT_MS;
  const log = deps.logger;

  // Synchronous unless the store must be asked: a promise per review would cost every uncached
  // kubectl request a few microseconds more (more with the async hooks oidc-provider enables).
  function review(body: unknown, reqId: string | undefined): ReviewAnswer | Promise<ReviewAnswer> {
    const parsed = parseTokenReview(body);
    if (!parsed.ok) {
      log.info({ reqId, reason: parsed.reason }, 'token review malformed');
      deps.onReview?.('malformed');
      return { status: 400, body: { error: parsed.reason } };
    }
    const { apiVersion, token, audiences } = parsed;
    // Hashed only for a line that will be written: most reviews log nothing at the default level.
    const tokenFp = (): string => fingerprint(token);
    const answer = (outcome: ReviewOutcome, status: Record<string, unknown>): ReviewAnswer => {
      deps.onReview?.(outcome);
      return { status: 200, body: { apiVersion, kind: 'TokenReview', status } };
    };
    const reject = (reason: string, level: 'debug' | 'info', extra: Record<string, unknown> = {}) => {
      if (log.isLevelEnabled(level)) log[level]({ reqId, tokenFp: tokenFp(), outcome: 'rejected', reason, ...extra }, 'token review rejected');
      return answer('rejected', { authenticated: false });
    };

    const verified = deps.verifier.verify(token);
    // Most of these are tokens meant for another authenticator (service accounts, other issuers).
    if (!verified.ok) return reject(verified.reason, 'debug');
    const mapped = mapUser(verified.claims, deps.mapping);
    if (!mapped.ok) return reject(mapped.reason, 'info', { sub: verified.claims.sub });

    const accept = (): ReviewAnswer => {
      const status: Record<string, unknown> = { authenticated: true, user: mapped.user };
      // The apiserver sends spec.audiences when it wants an audience-aware answer. The token's `aud` is
      // unixid's client id, not the apiserver's audience, but a token that passed the checks above is
      // meant for the apiserver this webhook is configured for; so the requested audiences are echoed
      // (they overlap by construction). Leaving them out would make the apiserver fall back to its own
      // implicit audiences, which need not overlap and would reject the user silently (CONTRACTS §2.3).
      if (audiences.length > 0) status.audiences = audiences;
      // Debug, not info: this line would come with every uncached kubectl request; the counter
      // unixid_token_reviews_total has the rate, and refusals are logged at info above.
      if (log.isLevelEnabled('debug')) log.debug({ reqId, tokenFp: tokenFp(), outcome: 'authenticated', username: mapped.user.username, groups: mapped.user.groups.length, kid: verified.kid }, 'token review authenticated');
      return answer('authenticated', status);
    };
    const revocation = deps.revocation;
    if (!revocation) return accept();

    const grantId = verified.claims.grant_id;
    if (typeof grantId !== 'string' || grantId === '') return reject('token has no grant_id', 'info', { sub: verified.claims.sub });
    const { sub, iat } = verified.claims;
    const issued = typeof sub === 'string' && typeof iat === 'number' ? { sub, iat } : undefined;
    return withDeadline(revocation.isAlive(grantId, issued), timeoutMs, 'revocation lookup').then(
      (alive) => (alive ? accept() : reject('grant revoked or expired', 'info', { sub: verified.claims.sub, username: mapped.user.username })),
      (err: unknown) => {
        // Fail closed, but as an *uncached* 200: a 5xx would be retried 5 times with backoff on every
        // kubectl request while the store is down, and only ends in a 401 anyway (CONTRACTS §2.5);
        // `error` keeps the apiserver from caching the refusal (§2.4) and puts the reason in its log.
        log.warn({ reqId, tokenFp: tokenFp(), outcome: 'error', err: (err as Error)?.message ?? String(err) }, 'token review: revocation store unavailable');
        return answer('error', { authenticated: false, error: REVOCATION_UNAVAILABLE });
      },
    );
  }

  const failed = (err: unknown, reqId: string | undefined): ReviewAnswer => {
    log.error({ reqId, err }, 'token review failed');
    deps.onReview?.('error');
    return { status: 500, body: { error: 'internal error' } };
  };
  return (body, reqId) => {
    try {
      const answered = review(body, reqId);
      return answered instanceof Promise ? answered.catch((err: unknown) => failed(err, reqId)) : answered;
    } catch (err) {
      return failed(err, reqId);
    }
  };
}
