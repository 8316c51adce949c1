import { createHash, randomBytes } from 'node:crypto';
import { CookieJar, type HttpAnswer, type HttpSend } from '../http-driver.js';
import type { Credentials, LoginFlow } from '../load-spec.js';
import type { FlowFactory, OpOutcome } from './flow.js';

export interface LoginEndpoints {
  target: string;
  authorizePath: string;
  tokenPath: string;
  clientId: string;
  redirectUri: string;
}

export type LoginResult =
  | { ok: true; idToken: string; refreshToken?: string }
  | { ok: false; refused: true; status: number }
  | { ok: false; refused: false; fail: OpOutcome };

const MAX_HOPS = 10;

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

function decodeHtml(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/**
 * One kubelogin-shaped authcode login in a new browser: authorize with PKCE, follow redirects to
 * the login page, post the form, follow redirects back to the loopback redirect URI, exchange the
 * code. A refused form post (wrong password) resolves `refused` with its status. Rejects only on
 * transport errors.
 */
export async function browserLogin(send: HttpSend, ep: LoginEndpoints, user: Credentials): Promise<LoginResult> {
  const jar = new CookieJar();
  const origin = new URL(ep.target).origin;
  const fail = (outcome: string, res?: HttpAnswer): LoginResult => ({ ok: false, refused: false, fail: { ok: false, outcome, detail: res?.body.slice(0, 200) } });

  async function get(path: string): Promise<HttpAnswer> {
    const res = await send({ method: 'GET', path, headers: { accept: 'text/html', cookie: jar.header() } });
    jar.keep(res.headers);
    return res;
  }

  /** Follow redirects within the issuer; stop at the redirect URI (resolves its URL) or at a page. */
  async function follow(first: HttpAnswer): Promise<{ page: HttpAnswer } | { back: URL }> {
    let res = first;
    for (let i = 0; i < MAX_HOPS; i++) {
      const location = res.headers.location;
      if (res.status < 300 || res.status >= 400 || !location) return { page: res };
      if (location.startsWith(ep.redirectUri)) return { back: new URL(location) };
      const next = new URL(location, ep.target);
      if (next.origin !== origin) throw new Error(`redirect off the issuer: ${location}`);
      res = await get(next.pathname + next.search);
    }
    throw new Error('too many redirects');
  }

  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const query = new URLSearchParams({
    client_id: ep.clientId,
    redirect_uri: ep.redirectUri,
    response_type: 'code',
    scope: 'openid',
    access_type: 'offline',
    state,
    nonce: b64url(randomBytes(12)),
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  });
  const login = await follow(await get(`${ep.authorizePath}?${query}`));
  if (!('page' in login) || login.page.status !== 200) return fail('no login page', 'page' in login ? login.page : undefined);
  const action = /<form[^>]*action="([^"]*)"/.exec(login.page.body)?.[1];
  if (!action) return fail('no login form', login.page);

  const posted = await send({
    method: 'POST',
    path: new URL(decodeHtml(action), ep.target).pathname,
    headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ username: user.username, password: user.password }).toString(),
  });
  jar.keep(posted.headers);
  if (posted.status < 300 || posted.status >= 400) return { ok: false, refused: true, status: posted.status };
  const done = await follow(posted);
  if (!('back' in done)) return fail(`login ended on a ${done.page.status} page`, done.page);
  if (done.back.searchParams.get('state') !== state) return fail('state mismatch');
  const code = done.back.searchParams.get('code');
  if (!code) return fail('no code in the redirect');

  const exchanged = await send({
    method: 'POST',
    path: ep.tokenPath,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: ep.redirectUri, code_verifier: verifier, client_id: ep.clientId }).toString(),
  });
  if (exchanged.status !== 200) return fail(`code exchange ${exchanged.status}`, exchanged);
  const tokens = JSON.parse(exchanged.body) as { id_token?: string; refresh_token?: string };
  if (!tokens.id_token) return fail('code exchange without id_token');
  return { ok: true, idToken: tokens.id_token, ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}) };
}

/** Browser logins in turn over `users`; correct when they end as the spec expects (tokens, or a refusal). */
export const loginFlow = (target: string): FlowFactory<LoginFlow> => (spec, send) => {
  if (spec.users.length === 0) throw new Error('login flow: no users');
  const refusedStatus = new Set(spec.refusedStatus ?? [401]);
  const ep: LoginEndpoints = { target, authorizePath: spec.authorizePath, tokenPath: spec.tokenPath, clientId: spec.clientId, redirectUri: spec.redirectUri };
  return {
    async run(_vu, seq) {
      const r = await browserLogin(send, ep, spec.users[seq % spec.users.length]!);
      if (r.ok) return spec.expect === 'tokens' ? { ok: true, outcome: 'tokens' } : { ok: false, outcome: 'logged in (expected a refusal)' };
      if (r.refused) {
        const ok = spec.expect === 'refused' && refusedStatus.has(r.status);
        return { ok, outcome: `refused ${r.status}` };
      }
      return r.fail;
    },
  };
};
