import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { Logger } from 'pino';
import { UnixidError } from '../errors.js';
import type { AccountResolver } from '../oidc/find-account.js';
import { finishInteraction, type Interaction } from './finish-interaction.js';
import { GENERIC_LOGIN_FAILURE } from './login-messages.js';
import { abandonSignal, checkPassword, type PasswordCheckDeps } from './password-check.js';
import type { Renderer } from './render.js';

export interface InteractionDeps {
  provider: ProviderRef;
  /** The throttled path to the credential backend, shared with the password grant. */
  passwords: PasswordCheckDeps;
  resolver: AccountResolver;
  renderer: Renderer;
  logger: Logger;
  /** Client ids whose consent is implied (configured first-party clients). */
  firstPartyClients: ReadonlySet<string>;
}

const MAX_FIELD = 4096 + 1024;

async function page(res: Response, renderer: Renderer, view: string, locals: Record<string, unknown>, status = 200): Promise<void> {
  const html = await renderer.render(view, { cspNonce: res.locals.cspNonce, requestId: res.locals.requestId, ...locals });
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}

/**
 * The interaction routes oidc-provider sends the browser to: the login form (POSTed under
 * /interaction/<uid>/ so the short-lived interaction cookie, scoped to that path, comes along),
 * consent (implied for first-party clients) and abort.
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const { renderer, logger } = deps;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 });

  async function clientName(clientId: string): Promise<string> {
    const client = await deps.provider.current.Client.find(clientId);
    return client?.clientName ?? clientId;
  }

  /** A grant holding everything the authorization request asked for (first-party clients only). */
  async function impliedGrant(details: Interaction, accountId: string): Promise<string> {
    const provider = deps.provider.current;
    const clientId = String(details.params.client_id);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const g = grant ?? new provider.Grant({ accountId, clientId });
    if (typeof details.params.scope === 'string') g.addOIDCScope(details.params.scope);
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope) g.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) g.addOIDCClaims(missing.missingOIDCClaims);
    return g.save();
  }

  async function showLogin(res: Response, details: Interaction, extra: { error?: string; username?: string }, status = 200) {
    await page(
      res,
      renderer,
      'login',
      {
        title: 'Log in',
        action: `/interaction/${details.uid}/login`,
        clientName: await clientName(String(details.params.client_id)),
        ...extra,
      },
      status,
    );
  }

  router.get('/interaction/:uid', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await deps.provider.current.interactionDetails(req, res);
      const clientId = String(details.params.client_id);
      if (details.prompt.name === 'login') {
        const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 256) : undefined;
        return await showLogin(res, details, hint ? { username: hint } : {});
      }
      if (details.prompt.name === 'consent') {
        const accountId = details.session?.accountId;
        if (accountId && deps.firstPartyClients.has(clientId)) {
          const grantId = await impliedGrant(details, accountId);
          return await finishInteraction(res, details, { consent: { grantId } }, { mergeWithLastSubmission: true });
        }
        const missing = details.prompt.details as { missingOIDCScope?: string[] };
        return await page(res, renderer, 'consent', {
          title: 'Allow access',
          action: `/interaction/${details.uid}/confirm`,
          clientName: await clientName(clientId),
          scopes: missing.missingOIDCScope ?? [],
        });
      }
      throw new UnixidError('BAD_REQUEST', `unknown prompt ${details.prompt.name}`);
    } catch (err) {
      next(err);
    }
  });

  router.post('/interaction/:uid/login', form, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await deps.provider.current.interactionDetails(req, res);
      if (details.prompt.name !== 'login') throw new UnixidError('BAD_REQUEST', `login posted while prompt is ${details.prompt.name}`);
      const clientId = String(details.params.client_id);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const username = typeof body.username === 'string' ? body.username : '';
      const password = typeof body.password === 'string' ? body.password : '';
      const keep = username.slice(0, 256);
      if (!username || !password || username.length > MAX_FIELD || password.length > MAX_FIELD) {
        logger.info({ reqId: res.locals.requestId, ip: req.ip, clientId }, 'login form incomplete or oversized');
        return await showLogin(res, details, { error: 'Enter your username and password.', username: keep }, 400);
      }
      const check = await checkPassword(deps.passwords, { username, password, ip: req.ip ?? '', clientId, via: 'form', requestId: res.locals.requestId, signal: abandonSignal(res) });
      if (!check.ok) {
        if (check.kind === 'unavailable') {
          res.set('Retry-After', '5');
          return await page(res, renderer, 'unavailable', { title: 'Temporarily unavailable', message: check.message }, 503);
        }
        if (check.kind === 'throttled') {
          // The same words as a wrong password: the page must not confirm that the account exists.
          res.set('Retry-After', String(check.retryAfterSeconds));
          return await showLogin(res, details, { error: GENERIC_LOGIN_FAILURE, username: keep }, 429);
        }
        return await showLogin(res, details, { error: check.message, username: keep }, 401);
      }
      const { identity } = check;
      await deps.resolver.rememberLogin(identity);
      const outcome: Record<string, unknown> = { login: { accountId: identity.subject, remember: true } };
      if (deps.firstPartyClients.has(clientId)) outcome.consent = { grantId: await impliedGrant(details, identity.subject) };
      return await finishInteraction(res, details, outcome, { mergeWithLastSubmission: false });
    } catch (err) {
      return next(err);
    }
  });

  router.post('/interaction/:uid/confirm', form, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await deps.provider.current.interactionDetails(req, res);
      const accountId = details.session?.accountId;
      if (details.prompt.name !== 'consent' || !accountId) throw new UnixidError('BAD_REQUEST', 'consent posted out of order');
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.decision !== 'allow') {
        return await finishInteraction(res, details, { error: 'access_denied', error_description: 'the user refused access' }, { mergeWithLastSubmission: false });
      }
      const grantId = await impliedGrant(details, accountId);
      return await finishInteraction(res, details, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      next(err);
    }
  });

  router.get('/interaction/:uid/abort', async (req: Request, res: Response, next: NextFunction) => {
    try {
      await deps.provider.current.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the login' }, { mergeWithLastSubmission: false });
    } catch (err) {
      next(err);
    }
  });

  return router;
}
