import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { GrantRevoker } from './revoke-grant.js';

/**
 * An explicit logout (the user confirmed it at /session/end) revokes every grant of the browser
 * session, refresh tokens included. Refresh tokens are otherwise made to outlive the session
 * (expiresWithSession = false, for kubelogin), and oidc-provider then keeps them across logout.
 */
export function revokeGrantsOnLogout(provider: Provider, revoke: GrantRevoker, logger: Logger, onLogout?: (accountId: string | undefined, grants: number) => void): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.oidc?.route !== 'end_session_confirm') return;
    if (!ctx.oidc.params?.logout) return;
    // Only a logout the provider accepted (it redirects onwards): a refused one (bad or missing
    // xsrf, no logout details) must not let any page that can post here kill the user's tokens.
    if (ctx.status >= 400) return;
    const session = ctx.oidc.session;
    const authorizations = (session?.authorizations ?? {}) as Record<string, { grantId?: string }>;
    const grantIds = Object.values(authorizations)
      .map((a) => a.grantId)
      .filter((g): g is string => typeof g === 'string');
    await Promise.all(grantIds.map((g) => revoke(g)));
    if (grantIds.length > 0) logger.info({ accountId: session?.accountId, grants: grantIds.length }, 'logout revoked the session grants');
    onLogout?.(session?.accountId, grantIds.length);
  });
}
