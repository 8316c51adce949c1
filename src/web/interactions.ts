import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { UnixidError } from '../errors.js';
import type { AccountResolver } from '../oidc/find-account.js';
import { beginDirectRequest, type DirectRequest, type DirectRequestDeps } from './direct-request.js';
import { sendError } from './error-handler.js';
import { finishInteraction, type Interaction } from './finish-interaction.js';
import { GENERIC_LOGIN_FAILURE } from './login-messages.js';
import { abandonSignal, checkPassword, type PasswordCheckDeps } from './password-check.js';
import type { Renderer } from './render.js';
import { sendBody } from './send-body.js';

export interface InteractionDeps extends DirectRequestDeps {
  provider: ProviderRef;
  /** The throttled path to the credential backend, shared with the password grant. */
  passwords: PasswordCheckDeps;
  resolver: AccountResolver;
  renderer: Renderer;
  /** Client ids whose consent is implied (configured first-party clients). */
  firstPartyClients: ReadonlySet<string>;
}

const MAX_FIELD = 4096 + 1024;

/**
 * The interaction paths as express's router matched them: `/interaction/:uid` and its `login`,
 * `confirm` and `abort` steps, any case, one optional trailing slash. The uid in the path is never
 * used: oidc-provider finds the interaction by its cookie, which is scoped to that path.
 */
const ROUTE = /^\/interaction\/[^/]+(?:\/(login|confirm|abort))?\/?$/i;

type Step = (req: IncomingMessage, res: ServerResponse, request: DirectRequest) => Promise<void>;

/**
 * The interaction pages oidc-provider sends the browser to, served straight from node:http before
 * express (a login is two of them; through express a PAM login cost about 0.7 ms more CPU,
 * bench/README.md item 1): the login form (POSTed under /interaction/<uid>/ so the short-lived
 * interaction cookie, scoped to that path, comes along), consent (implied for first-party
 * clients) and abort. Each request gets what express's chain gave it (request id, security
 * headers, access log, metrics) and failures get its error page.
 * Returns false for every other request, and for a method these paths do not serve (the caller
 * hands it on, and express answers it as before).
 */
export function interactionPages(deps: InteractionDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { renderer, logger } = deps;
  // body-parser's reader, as express used it: its limits, charsets, encodings and error types.
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 });
  const formBody = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      form(req as Request, res as Response, (err?: unknown) => (err ? reject(err) : resolve(((req as { body?: unknown }).body ?? {}) as Record<string, unknown>)));
    });

  async function page(res: ServerResponse, request: DirectRequest, view: string, locals: Record<string, unknown>, status = 200): Promise<void> {
    const html = await renderer.render(view, { cspNonce: request.locals.cspNonce, requestId: request.locals.requestId, ...locals });
    sendBody(res, status, 'text/html; charset=utf-8', html, { 'Cache-Control': 'no-store' });
  }

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

  async function showLogin(res: ServerResponse, request: DirectRequest, details: Interaction, extra: { error?: string; username?: string }, status = 200) {
    await page(
      res,
      request,
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

  const showPage: Step = async (req, res, request) => {
    const details = await deps.provider.current.interactionDetails(req, res);
    const clientId = String(details.params.client_id);
    if (details.prompt.name === 'login') {
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 256) : undefined;
      return showLogin(res, request, details, hint ? { username: hint } : {});
    }
    if (details.prompt.name === 'consent') {
      const accountId = details.session?.accountId;
      if (accountId && deps.firstPartyClients.has(clientId)) {
        const grantId = await impliedGrant(details, accountId);
        return finishInteraction(res, details, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      const missing = details.prompt.details as { missingOIDCScope?: string[] };
      return page(res, request, 'consent', {
        title: 'Allow access',
        action: `/interaction/${details.uid}/confirm`,
        clientName: await clientName(clientId),
        scopes: missing.missingOIDCScope ?? [],
      });
    }
    throw new UnixidError('BAD_REQUEST', `unknown prompt ${details.prompt.name}`);
  };

  const postLogin: Step = async (req, res, request) => {
    const body = await formBody(req, res);
    const details = await deps.provider.current.interactionDetails(req, res);
    if (details.prompt.name !== 'login') throw new UnixidError('BAD_REQUEST', `login posted while prompt is ${details.prompt.name}`);
    const clientId = String(details.params.client_id);
    const username = typeof body.username === 'string' ? body.username : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const keep = username.slice(0, 256);
    const { requestId } = request.locals;
    if (!username || !password || username.length > MAX_FIELD || password.length > MAX_FIELD) {
      logger.info({ reqId: requestId, ip: request.ip(), clientId }, 'login form incomplete or oversized');
      return showLogin(res, request, details, { error: 'Enter your username and password.', username: keep }, 400);
    }
    const check = await checkPassword(deps.passwords, { username, password, ip: request.ip(), clientId, via: 'form', requestId, signal: abandonSignal(res) });
    if (!check.ok) {
      if (check.kind === 'unavailable') {
        res.setHeader('Retry-After', '5');
        return page(res, request, 'unavailable', { title: 'Temporarily unavailable', message: check.message }, 503);
      }
      if (check.kind === 'throttled') {
        // The same words as a wrong password: the page must not confirm that the account exists.
        res.setHeader('Retry-After', String(check.retryAfterSeconds));
        return showLogin(res, request, details, { error: GENERIC_LOGIN_FAILURE, username: keep }, 429);
      }
      return showLogin(res, request, details, { error: check.message, username: keep }, 401);
    }
    const { identity } = check;
    await deps.resolver.rememberLogin(identity);
    const outcome: Record<string, unknown> = { login: { accountId: identity.subject, remember: true } };
    if (deps.firstPartyClients.has(clientId)) outcome.consent = { grantId: await impliedGrant(details, identity.subject) };
    return finishInteraction(res, details, outcome, { mergeWithLastSubmission: false });
  };

  const postConfirm: Step = async (req, res) => {
    const body = await formBody(req, res);
    const details = await deps.provider.current.interactionDetails(req, res);
    const accountId = details.session?.accountId;
    if (details.prompt.name !== 'consent' || !accountId) throw new UnixidError('BAD_REQUEST', 'consent posted out of order');
    if (body.decision !== 'allow') {
      return finishInteraction(res, details, { error: 'access_denied', error_description: 'the user refused access' }, { mergeWithLastSubmission: false });
    }
    const grantId = await impliedGrant(details, accountId);
    return finishInteraction(res, details, { consent: { grantId } }, { mergeWithLastSubmission: true });
  };

  const abort: Step = async (req, res) => {
    await deps.provider.current.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the login' }, { mergeWithLastSubmission: false });
  };

  function stepFor(method: string | undefined, step: string | undefined): Step | undefined {
    // HEAD runs the GET handler, as express does; node:http leaves the body out.
    const get = method === 'GET' || method === 'HEAD';
    switch (step?.toLowerCase()) {
      case undefined:
        return get ? showPage : undefined;
      case 'login':
        return method === 'POST' ? postLogin : undefined;
      case 'confirm':
        return method === 'POST' ? postConfirm : undefined;
      case 'abort':
        return get ? abort : undefined;
      default:
        return undefined;
    }
  }

  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const match = ROUTE.exec(q < 0 ? url : url.slice(0, q));
    const step = match ? stepFor(req.method, match[1]) : undefined;
    if (!step) return false;
    const request = beginDirectRequest(deps, req, res, url);
    step(req, res, request)
      .catch((err: unknown) => sendError(deps, err, req, res))
      .catch((err: unknown) => {
        // sendError does not reject; this is only reached if writing the answer itself threw.
        logger.error({ reqId: request.locals.requestId, err }, 'interaction request failed');
        res.destroy();
      });
    return true;
  };
}
