import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { CredentialBackend } from '../backends/types.js';
import { BackendUnavailableError, UnixidError } from '../errors.js';
import type { AccountResolver } from '../oidc/find-account.js';
import type { LoginGate } from './login-gate.js';
import { GENERIC_LOGIN_FAILURE, loginFailureMessage } from './login-messages.js';
import type { Renderer } from './render.js';

export interface InteractionDeps {
  provider: Provider;
  backend: CredentialBackend;
  resolver: AccountResolver;
  renderer: Renderer;
  logger: Logger;
  /** Client ids whose consent is implied (configured first-party clients). */
  firstPartyClients: ReadonlySet<string>;
  /** Brute-force protection in front of the backend; absent means none. */
  gate?: LoginGate;
  /** Called after every login attempt (metrics/audit hook). */
  onLogin?: (event: { username: string; clientId: string; ip: string; backend: string; outcome: string; reason?: string }) => void;
}

const MAX_FIELD = 4096 + 1024;

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

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
  const { provider, renderer, logger } = deps;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 });

  async function clientName(clientId: string): Promise<string> {
    const client = await provider.Client.find(clientId);
    return client?.clientName ?? clientId;
  }

  /** A grant holding everything the authorization request asked for (first-party clients only). */
  async function impliedGrant(details: Details, accountId: string): Promise<string> {
    const clientId = String(details.params.client_id);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const g = grant ?? new provider.Grant({ accountId, clientId });
    if (typeof details.params.scope === 'string') g.addOIDCScope(details.params.scope);
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope) g.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) g.addOIDCClaims(missing.missingOIDCClaims);
    return g.save();
  }

  async function showLogin(res: Response, details: Details, extra: { error?: string; username?: string }, status = 200) {
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
      const details = await provider.interactionDetails(req, res);
      const clientId = String(details.params.client_id);
      if (details.prompt.name === 'login') {
        const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 256) : undefined;
        return await showLogin(res, details, hint ? { username: hint } : {});
      }
      if (details.prompt.name === 'consent') {
        const accountId = details.session?.accountId;
        if (accountId && deps.firstPartyClients.has(clientId)) {
          const grantId = await impliedGrant(details, accountId);
          return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
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
    let details: Details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      return next(err);
    }
    const clientId = String(details.params.client_id);
    const ip = req.ip ?? '';
    const body = (req.body ?? {}) as Record<string, unknown>;
    const username = typeof body.username === 'string' ? body.username : '';
    const password = typeof body.password === 'string' ? body.password : '';
    try {
      if (details.prompt.name !== 'login') throw new UnixidError('BAD_REQUEST', `login posted while prompt is ${details.prompt.name}`);
      if (!username || !password || username.length > MAX_FIELD || password.length > MAX_FIELD) {
        logger.info({ reqId: res.locals.requestId, ip, clientId }, 'login form incomplete or oversized');
        return await showLogin(res, details, { error: 'Enter your username and password.', username: username.slice(0, 256) }, 400);
      }
      const gate = deps.gate ? await deps.gate.check(username, ip) : { allowed: true as const };
      if (!gate.allowed) {
        deps.onLogin?.({ username, clientId, ip, backend: deps.backend.type, outcome: 'throttled' });
        logger.warn({ reqId: res.locals.requestId, username, ip, clientId, retryAfter: gate.retryAfterSeconds }, 'login throttled');
        res.set('Retry-After', String(gate.retryAfterSeconds));
        return await showLogin(res, details, { error: GENERIC_LOGIN_FAILURE, username: username.slice(0, 256) }, 429);
      }
      const secret = Buffer.from(password, 'utf8');
      let result;
      try {
        result = await deps.backend.login(username, secret, { remoteAddress: ip, requestId: res.locals.requestId });
      } finally {
        secret.fill(0);
      }
      if (!result.ok) {
        await deps.gate?.failed(username, ip);
        deps.onLogin?.({ username, clientId, ip, backend: deps.backend.type, outcome: 'failure', reason: result.reason });
        logger.info({ reqId: res.locals.requestId, username, ip, clientId, backend: deps.backend.type, reason: result.reason, detail: result.detail }, 'login failed');
        return await showLogin(res, details, { error: loginFailureMessage(result.reason), username: username.slice(0, 256) }, 401);
      }
      await deps.gate?.succeeded(username, ip);
      const { identity } = result;
      await deps.resolver.rememberLogin(identity);
      deps.onLogin?.({ username: identity.username, clientId, ip, backend: identity.backend, outcome: 'success' });
      logger.info(
        { reqId: res.locals.requestId, username: identity.username, sub: identity.subject, ip, clientId, backend: identity.backend, groups: identity.groups.length },
        'login succeeded',
      );
      const outcome: Record<string, unknown> = { login: { accountId: identity.subject, remember: true } };
      if (deps.firstPartyClients.has(clientId)) outcome.consent = { grantId: await impliedGrant(details, identity.subject) };
      return await provider.interactionFinished(req, res, outcome, { mergeWithLastSubmission: false });
    } catch (err) {
      if (err instanceof BackendUnavailableError) {
        deps.onLogin?.({ username, clientId, ip, backend: deps.backend.type, outcome: 'unavailable' });
        logger.error({ reqId: res.locals.requestId, username, ip, clientId, err: err.detail }, 'login backend unavailable');
        res.set('Retry-After', '5');
        return page(res, renderer, 'unavailable', { title: 'Temporarily unavailable', message: err.message }, 503).catch(next);
      }
      return next(err);
    }
  });

  router.post('/interaction/:uid/confirm', form, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const accountId = details.session?.accountId;
      if (details.prompt.name !== 'consent' || !accountId) throw new UnixidError('BAD_REQUEST', 'consent posted out of order');
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.decision !== 'allow') {
        return await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user refused access' }, { mergeWithLastSubmission: false });
      }
      const grantId = await impliedGrant(details, accountId);
      return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      next(err);
    }
  });

  router.get('/interaction/:uid/abort', async (req: Request, res: Response, next: NextFunction) => {
    try {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the login' }, { mergeWithLastSubmission: false });
    } catch (err) {
      next(err);
    }
  });

  return router;
}
