import { errors, type KoaContextWithOIDC, type Provider } from 'oidc-provider';
import { abandonSignal, checkPassword, type PasswordCheckDeps } from '../web/password-check.js';
import type { AccountResolver } from './find-account.js';
import { temporarilyUnavailable } from './store-errors.js';
import type { ClientIp } from '../web/client-ip.js';

export interface PasswordGrantDeps {
  provider: Provider;
  /** The throttled path to the credential backend, shared with the login form. */
  passwords: PasswordCheckDeps;
  resolver: AccountResolver;
  /** The client address, by server.trustProxy (never koa's ctx.ip, which believes any X-Forwarded-For). */
  clientIp: ClientIp;
}

export const PASSWORD_GRANT = 'password';

/** 429 with Retry-After: a throttled attempt is told to wait, not that the password was wrong. */
class TooManyAttempts extends errors.InvalidGrant {
  constructor(retryAfterSeconds: number) {
    super('too many failed attempts, try again later');
    Object.assign(this, { status: 429, statusCode: 429, retryAfter: retryAfterSeconds });
  }
}

/**
 * `grant_type=password` (kubelogin's password mode), for clients whose grant_types list it. It goes
 * through the same throttle and backend as the login form, creates a real Grant (so logout, revoke
 * and the webhook's revocation check apply) and answers with an ID token, an access token and,
 * when the client may refresh, a refresh token.
 */
export function registerPasswordGrant(deps: PasswordGrantDeps): void {
  const { provider, resolver } = deps;

  async function handler(ctx: KoaContextWithOIDC): Promise<void> {
    const params = ctx.oidc.params as Record<string, unknown>;
    const client = ctx.oidc.client!;
    const username = typeof params.username === 'string' ? params.username : '';
    const password = typeof params.password === 'string' ? params.password : '';
    if (!username || !password) throw new errors.InvalidRequest('username and password are required');
    // The id unixid gave this request (and sent back in X-Request-Id); oidc-provider's context only
    // has the incoming headers, which carry it only when the client chose one.
    const reqId = (ctx.res as unknown as { locals?: { requestId?: string } }).locals?.requestId ?? (ctx.get('x-request-id') || undefined);
    const check = await checkPassword(deps.passwords, { username, password, ip: deps.clientIp(ctx.req), clientId: client.clientId, via: 'password_grant', ...(reqId ? { requestId: reqId } : {}), signal: abandonSignal(ctx.res) });
    if (!check.ok) {
      if (check.kind === 'throttled') {
        ctx.set('Retry-After', String(check.retryAfterSeconds));
        throw new TooManyAttempts(check.retryAfterSeconds);
      }
      if (check.kind === 'unavailable') throw temporarilyUnavailable(check.message);
      throw new errors.InvalidGrant(check.message);
    }
    const { identity } = check;
    await resolver.rememberLogin(identity);

    // The scopes the client asked for, limited to what it may have; openid is implied.
    const requested = new Set(String(params.scope ?? 'openid').split(' ').filter(Boolean));
    requested.add('openid');
    const scope = [...requested].filter((s) => client.scope === undefined || client.scope.split(' ').includes(s) || s === 'openid').join(' ');
    const grant = new provider.Grant({ accountId: identity.subject, clientId: client.clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();

    const account = await resolver.findAccount(ctx, identity.subject, { kind: 'PasswordGrant', grantId });
    if (!account) throw new errors.InvalidGrant('the account is not allowed to log in');
    ctx.oidc.entity('Account', account);
    ctx.oidc.entity('Grant', grant);
    const authTime = Math.floor(Date.now() / 1000);

    const at = new provider.AccessToken({ accountId: identity.subject, client, grantId, gty: PASSWORD_GRANT, scope });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken: string | undefined;
    if (client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({ accountId: identity.subject, client, grantId, gty: PASSWORD_GRANT, scope, authTime, rotations: 0 });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    const claims = await account.claims('id_token', scope, {}, []);
    const idToken = new provider.IdToken({ ...claims, auth_time: authTime }, { ctx });
    (idToken as unknown as { scope: string }).scope = scope;
    ctx.body = {
      access_token: accessToken,
      expires_in: at.expiration,
      token_type: 'Bearer',
      id_token: await idToken.issue({ use: 'idtoken' }),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope,
    };
  }

  provider.registerGrantType(PASSWORD_GRANT, handler as Parameters<Provider['registerGrantType']>[1], ['username', 'password', 'scope']);
}
