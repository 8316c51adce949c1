import { createHash, randomBytes } from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { KubernetesConfig } from '../config/sections/kubernetes.js';
import { issuerEndpoint } from '../kubernetes/apiserver-config.js';
import { extraScopesFor, readClusterCa, renderUserKubeconfig } from '../kubernetes/kubeconfig.js';
import { mapUser } from '../kubernetes/token-review.js';
import type { AccountResolver } from '../oidc/find-account.js';
import type { ProviderRef } from '../oidc/provider-ref.js';
import type { Renderer } from './render.js';

/** The client id of unixid's own home page; registered by the provider, first-party. */
export const HOME_CLIENT_ID = 'unixid-home';
export const HOME_CALLBACK_PATH = '/callback';

/** The home client's redirect URI; the provider registers exactly this string. */
export function homeCallbackUrl(issuer: string): string {
  return issuerEndpoint(issuer, HOME_CALLBACK_PATH);
}

export interface HomeDeps {
  provider: ProviderRef;
  resolver: AccountResolver;
  renderer: Renderer;
  logger: Logger;
  issuer: string;
  kubernetes: KubernetesConfig;
}

interface Viewer {
  username: string;
  subject: string;
  groups: string[];
  kubernetesUsername: string;
  kubernetesGroups: string[];
}

const STATE_COOKIE = '_unixid_home_state';

/**
 * unixid's home page, a first-party client of its own provider: a visitor without a session is
 * sent through /auth like any client (so logins, throttling and the interaction policy apply);
 * with one, the page shows the identity as Kubernetes will see it and a kubeconfig per cluster.
 */
export function homeRoutes(deps: HomeDeps): Router {
  const router = Router();

  /** The logged-in viewer of this browser, or undefined (no session, or the account is no longer valid). */
  async function viewer(req: Request, res: Response): Promise<Viewer | undefined> {
    const provider = deps.provider.current;
    const ctx = provider.createContext(req, res) as unknown as KoaContextWithOIDC;
    const session = await provider.Session.get(ctx);
    const accountId = session.accountId;
    if (!accountId || !session.authorizations?.[HOME_CLIENT_ID]) return undefined;
    const account = await deps.resolver.findAccount(ctx, accountId);
    if (!account) return undefined;
    const claims = (await account.claims('id_token', 'openid', {}, [])) as Record<string, unknown>;
    const mapped = mapUser(claims, deps.kubernetes);
    return {
      username: String(claims.preferred_username ?? ''),
      subject: accountId,
      groups: Array.isArray(claims.groups) ? (claims.groups as string[]) : [],
      kubernetesUsername: mapped.ok ? mapped.user.username : '(not accepted by Kubernetes)',
      kubernetesGroups: mapped.ok ? mapped.user.groups : [],
    };
  }

  // CA files are read once, not per page view; one unreadable file does not take the page down.
  const caData = new Map<string, Promise<string | undefined>>(
    deps.kubernetes.clusters.map((c) => [
      c.name,
      readClusterCa(c).catch((err: Error) => {
        deps.logger.error({ cluster: c.name, err: err.message }, 'cluster CA unreadable: its kubeconfig goes out without it');
        return undefined;
      }),
    ]),
  );

  async function kubeconfigOf(name: string, user: Viewer): Promise<string | undefined> {
    const cluster = deps.kubernetes.clusters.find((c) => c.name === name);
    if (!cluster) return undefined;
    const ca = await caData.get(name);
    return renderUserKubeconfig({
      cluster,
      issuer: deps.issuer,
      clientId: deps.kubernetes.clientId,
      username: user.username,
      extraScopes: extraScopesFor(deps.kubernetes),
      ...(ca ? { caData: ca } : {}),
    });
  }

  /** Start a login through the provider, as any relying party would (PKCE and state included). */
  function login(res: Response): void {
    const state = randomBytes(16).toString('base64url');
    const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
    res.cookie(STATE_COOKIE, state, { httpOnly: true, sameSite: 'lax', secure: deps.issuer.startsWith('https:'), path: HOME_CALLBACK_PATH, maxAge: 600_000 });
    const url = new URL(issuerEndpoint(deps.issuer, '/auth'));
    url.search = new URLSearchParams({
      client_id: HOME_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: homeCallbackUrl(deps.issuer),
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    res.redirect(303, url.href);
  }

  router.get('/', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const user = await viewer(req, res);
      const clusters = user
        ? await Promise.all(deps.kubernetes.clusters.map(async (c) => ({ name: c.name, server: c.server, kubeconfig: (await kubeconfigOf(c.name, user))! })))
        : [];
      const html = await deps.renderer.render('home', {
        title: 'Kubernetes access',
        cspNonce: res.locals.cspNonce,
        requestId: res.locals.requestId,
        user,
        clusters,
        loginUrl: '/login',
        logoutUrl: '/session/end',
      });
      res.status(200).type('html').set('Cache-Control', 'no-store').send(html);
    } catch (err) {
      next(err);
    }
  });

  router.get('/login', (_req, res) => login(res));

  // The code is not exchanged: the provider session now holds this client's authorization, which is
  // all the page needs; the unused code expires on its own within a minute.
  router.get(HOME_CALLBACK_PATH, (req: Request, res: Response) => {
    const expected = (req.headers.cookie ?? '').split(/;\s*/).find((c) => c.startsWith(`${STATE_COOKIE}=`))?.slice(STATE_COOKIE.length + 1);
    res.clearCookie(STATE_COOKIE, { path: HOME_CALLBACK_PATH });
    if (typeof req.query.error === 'string') {
      deps.logger.info({ error: req.query.error }, 'home page login ended without a session');
      return res.redirect(303, '/');
    }
    if (!expected || req.query.state !== expected) {
      return res.status(400).type('text').send('The login could not be completed (state mismatch). Open the home page again.\n');
    }
    return res.redirect(303, '/');
  });

  router.get('/kubeconfig', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const name = typeof req.query.cluster === 'string' ? req.query.cluster : '';
      const user = await viewer(req, res);
      if (!user) return res.status(401).type('text').send('Log in on the home page first.\n');
      const text = name ? await kubeconfigOf(name, user) : undefined;
      if (!text) return res.status(404).type('text').send(`No cluster named ${JSON.stringify(name.slice(0, 64))} is configured.\n`);
      res
        .status(200)
        .set('Cache-Control', 'no-store')
        .set('Content-Disposition', `attachment; filename="kubeconfig-${name}.yaml"`)
        .type('application/yaml')
        .send(text);
    } catch (err) {
      next(err);
    }
  });

  return router;
}
