import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { IdTokenSigner } from '../keys/id-token-signer.js';
import type { AccountResolver } from '../oidc/find-account.js';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { claimsOf } from '../oidc/claims.js';
import { abandonSignal, checkPassword, type PasswordCheckDeps } from '../web/password-check.js';

export interface BasicTokenDeps {
  path: string;
  issuer: string;
  /** The audience of the token: the client id kube-apiserver is configured with. */
  clientId: string;
  /** Default and longest lifetime a caller may ask for with ?expires_in=. */
  defaultSeconds: number;
  maxSeconds: number;
  provider: ProviderRef;
  passwords: PasswordCheckDeps;
  resolver: AccountResolver;
  signer: IdTokenSigner;
  logger: Logger;
  now?: () => number;
}

/** The username and password of an `Authorization: Basic` header, or undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header?.trim() ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * pam_hook's automation path: `curl -u alice https://issuer/token` answers an ID token for the
 * Kubernetes client (text, or JSON when asked). Same throttle and backend as the login form; the
 * token gets a Grant of its own so logout-style revocation and `unixid revoke` apply to it.
 */
export function basicTokenRoutes(deps: BasicTokenDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;

  router.get(deps.path, async (req: Request, res: Response, next: NextFunction) => {
    try {
      res.set('Cache-Control', 'no-store');
      const creds = parseBasicAuth(req.get('authorization'));
      if (!creds) {
        res.set('WWW-Authenticate', 'Basic realm="unixid", charset="UTF-8"');
        return res.status(401).type('text').send('Send your username and password with HTTP basic authentication (curl -u USER).\n');
      }
      let seconds = deps.defaultSeconds;
      if (req.query.expires_in !== undefined) {
        const asked = Number(req.query.expires_in);
        if (!Number.isInteger(asked) || asked <= 0) return res.status(400).type('text').send('expires_in must be a positive whole number of seconds.\n');
        seconds = Math.min(asked, deps.maxSeconds);
      }
      const check = await checkPassword(deps.passwords, { ...creds, ip: req.ip ?? '', clientId: deps.clientId, via: 'basic_token', requestId: res.locals.requestId, signal: abandonSignal(res) });
      if (!check.ok) {
        if (check.kind === 'throttled') {
          res.set('Retry-After', String(check.retryAfterSeconds));
          return res.status(429).type('text').send('Too many failed attempts. Try again later.\n');
        }
        if (check.kind === 'unavailable') return res.status(503).set('Retry-After', '5').type('text').send(`${check.message}\n`);
        res.set('WWW-Authenticate', 'Basic realm="unixid", charset="UTF-8"');
        return res.status(401).type('text').send(`${check.message}\n`);
      }
      const { identity } = check;
      await deps.resolver.rememberLogin(identity);
      const grant = new deps.provider.current.Grant({ accountId: identity.subject, clientId: deps.clientId });
      grant.addOIDCScope('openid');
      const grantId = await grant.save();
      const iat = Math.floor(now() / 1000);
      const exp = iat + seconds;
      const token = deps.signer.sign({ ...claimsOf(identity), iss: deps.issuer, aud: deps.clientId, sub: identity.subject, iat, exp, grant_id: grantId });
      deps.logger.info({ username: identity.username, sub: identity.subject, expiresIn: seconds }, 'basic-auth token issued');
      if (req.accepts(['text', 'json']) === 'json') {
        return res.json({ id_token: token, token_type: 'Bearer', expires_in: seconds, expiration: new Date(exp * 1000).toISOString() });
      }
      return res.type('text').send(`${token}\n`);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
