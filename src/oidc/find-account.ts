import type { ClientIp } from '../web/client-ip.js';
import type { Account, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { CredentialBackend } from '../backends/types.js';
import { UnixidError } from '../errors.js';
import type { Identity } from '../identity.js';
import { accountRefOf } from '../identity.js';
import type { AccountStore } from './account-store.js';
import type { RevocationList } from './revocations.js';
import { claimsOf } from './claims.js';
import { temporarilyUnavailable } from './store-errors.js';

export interface FindAccountDeps {
  accounts: AccountStore;
  /** Admin revocations: anything issued to a subject before its revocation is refused. */
  revocations?: RevocationList;
  /** Backends by type; an account is re-checked by the backend that logged it in. */
  backends: ReadonlyMap<string, CredentialBackend>;
  logger: Logger;
  /** How long an account stays recorded after its last login or refresh. */
  accountTtlSeconds: number;
  /** How long a fresh check may be reused for non-refresh lookups (code exchange, userinfo). */
  recentCheckMs: number;
  now?: () => number;
  /** Called when a refresh is refused because the account changed (metrics/audit hook). */
  onRefreshDenied?: (subject: string, username: string, reason: string) => void;
  /** The client address of a request (the refresh's PAM rhost), by server.trustProxy. */
  clientIp: ClientIp;
}

/** What findAccount is asked about: a token or session, its kind, its grant and when it was issued. */
export interface IssuedThing {
  kind?: string;
  grantId?: string;
  /** Issued-at, seconds; compared with admin revocations. */
  iat?: number;
}

export interface AccountResolver {
  findAccount(ctx: KoaContextWithOIDC, sub: string, token?: IssuedThing): Promise<Account | undefined>;
  /** Remember an identity that just logged in, so the code exchange that follows does not re-check it at once. */
  rememberLogin(identity: Identity): Promise<void>;
  /** Drop cached knowledge of a subject (admin revoke). */
  forget(subject: string): void;
}

/**
 * The oidc-provider Account of an identity. Tokens minted under a grant (code exchange, device
 * code, refresh) also carry its id as `grant_id`, so the TokenReview webhook can ask whether the
 * grant still lives (logout and revoke take effect before the token expires).
 */
function toAccount(identity: Identity, grantId: string | undefined): Account {
  const claims = claimsOf(identity);
  return {
    accountId: identity.subject,
    claims: async () => ({ ...claims, sub: identity.subject, ...(grantId ? { grant_id: grantId } : {}) }),
  };
}

/**
 * oidc-provider's findAccount: resolves a subject to its backend account and re-checks it.
 * Refresh-token grants always re-run the backend check (account phase, same uid/DN) and re-read
 * groups; a refused account resolves to undefined (oidc-provider answers invalid_grant). A backend
 * that cannot answer rejects with temporarily_unavailable (503), never with stale groups.
 */
export function createAccountResolver(deps: FindAccountDeps): AccountResolver {
  const now = deps.now ?? Date.now;
  const recent = new Map<string, { identity: Identity; until: number }>();
  const perRequest = new WeakMap<object, Map<string, Promise<Account | undefined>>>();

  function remember(identity: Identity): void {
    if (deps.recentCheckMs <= 0) return;
    recent.set(identity.subject, { identity, until: now() + deps.recentCheckMs });
    if (recent.size > 10_000) {
      for (const [k, v] of recent) if (v.until <= now()) recent.delete(k);
    }
  }

  async function resolve(sub: string, token: IssuedThing | undefined, ctx: KoaContextWithOIDC): Promise<Account | undefined> {
    const kind = token?.kind;
    const grantId = token?.grantId;
    if (deps.revocations && typeof token?.iat === 'number' && (await deps.revocations.isRevoked(sub, token.iat))) {
      deps.logger.info({ sub, kind }, 'refused: revoked by an administrator');
      return undefined;
    }
    const mustRecheck = kind === 'RefreshToken';
    const cached = recent.get(sub);
    if (!mustRecheck && cached && cached.until > now()) return toAccount(cached.identity, grantId);

    const ref = await deps.accounts.find(sub);
    if (!ref) {
      deps.logger.info({ sub, kind }, 'account not found in store (expired or revoked)');
      return undefined;
    }
    const backend = deps.backends.get(ref.backend);
    if (!backend) {
      deps.logger.warn({ sub, backend: ref.backend }, 'account belongs to a backend that is not configured');
      return undefined;
    }
    let result;
    try {
      result = await backend.refresh(ref, { remoteAddress: deps.clientIp(ctx.req), requestId: String(ctx.get('x-request-id') || '') || undefined });
    } catch (err) {
      const detail = err instanceof UnixidError ? err.detail ?? err.message : (err as Error).message;
      deps.logger.warn({ sub, username: ref.username, backend: ref.backend, kind, err: detail }, 'account re-check could not be done');
      throw temporarilyUnavailable('the account directory is temporarily unavailable, try again', detail);
    }
    if (!result.ok) {
      deps.logger.info({ sub, username: ref.username, backend: ref.backend, kind, reason: result.reason, detail: result.detail }, 'account re-check refused');
      deps.onRefreshDenied?.(sub, ref.username, result.reason);
      recent.delete(sub);
      return undefined;
    }
    remember(result.identity);
    if (mustRecheck) await deps.accounts.save(accountRefOf(result.identity), deps.accountTtlSeconds);
    return toAccount(result.identity, grantId);
  }

  return {
    findAccount(ctx, sub, token) {
      let memo = perRequest.get(ctx);
      if (!memo) {
        memo = new Map();
        perRequest.set(ctx, memo);
      }
      const key = `${token?.kind ?? ''}:${token?.grantId ?? ''}:${token?.iat ?? ''}:${sub}`;
      let pending = memo.get(key);
      if (!pending) {
        pending = resolve(sub, token, ctx);
        memo.set(key, pending);
      }
      return pending;
    },
    async rememberLogin(identity) {
      await deps.accounts.save(accountRefOf(identity), deps.accountTtlSeconds);
      remember(identity);
    },
    forget(subject) {
      recent.delete(subject);
    },
  };
}
