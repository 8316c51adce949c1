import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { Browser, formAction, formField, type Hop } from './http-client.js';

/** kubelogin's defaults: the `kubernetes` public client on a loopback redirect with no path. */
export const KUBELOGIN_REDIRECT = 'http://localhost:8000';

/** The `kubernetes` client as kubelogin uses it, password grant included (needs kubernetes.passwordGrant). */
export const KUBERNETES_CLIENT_YAML = [
  'clients:',
  '  - client_id: kubernetes',
  '    application_type: native',
  '    token_endpoint_auth_method: none',
  '    redirect_uris: ["http://localhost", "http://127.0.0.1"]',
  '    grant_types: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:device_code", password]',
].join('\n');

/** An openid-client configuration for the public `kubernetes` client (plain http is fine on loopback). */
export async function kubeloginClient(issuer: string, clientId = 'kubernetes'): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

export interface TokenResponse {
  id_token?: string;
  refresh_token?: string;
  access_token: string;
  expires_in?: number;
  token_type: string;
}

export interface AuthcodeResult {
  tokens: TokenResponse;
  /** The login page as the user saw it, before posting credentials. */
  loginPage: Hop;
}

/** Open the authorization URL the way kubelogin builds it; resolves the login page hop. */
export async function startKubeloginAuthorize(config: oidc.Configuration, browser: Browser, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: KUBELOGIN_REDIRECT,
    scope: 'openid',
    response_type: 'code',
    access_type: 'offline',
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  const page = await browser.follow(url.href, {}, (loc) => loc.startsWith(KUBELOGIN_REDIRECT));
  return { page, verifier, state, nonce };
}

/** Post the login form found in `page`; follow until the loopback redirect (or a page). */
export async function submitLogin(browser: Browser, page: Hop, username: string, password: string): Promise<Hop> {
  const action = formAction(page.body);
  if (!action) throw new Error(`no login form on the page (status ${page.status}): ${page.body.slice(0, 300)}`);
  return browser.follow(new URL(action, page.url).href, { form: { username, password } }, (loc) => loc.startsWith(KUBELOGIN_REDIRECT));
}

/** The whole kubelogin authcode flow: authorize, log in, exchange the code. Throws with the page on failure. */
export async function kubeloginLogin(config: oidc.Configuration, browser: Browser, username: string, password: string): Promise<AuthcodeResult> {
  const { page, verifier, state, nonce } = await startKubeloginAuthorize(config, browser);
  const done = await submitLogin(browser, page, username, password);
  if (!done.location?.startsWith(KUBELOGIN_REDIRECT)) {
    throw new Error(`login did not redirect back (status ${done.status}): ${done.body.slice(0, 500)}`);
  }
  const back = new URL(done.location);
  if (back.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in ${done.location}`);
  // Exchanged the way kubelogin's oauth2 library does it: the same redirect_uri string as the
  // authorize request (openid-client would derive "http://localhost:8000/" with a slash).
  const tokens = await exchangeCode(config, code, verifier);
  const payload = JSON.parse(Buffer.from(tokens.id_token!.split('.')[1]!, 'base64url').toString('utf8')) as { nonce?: string };
  if (payload.nonce !== nonce) throw new Error('nonce mismatch');
  return { tokens, loginPage: page };
}

/** POST the authorization code to the token endpoint as a public client with PKCE; rejects with the error body. */
export async function exchangeCode(config: oidc.Configuration, code: string, verifier: string, redirectUri = KUBELOGIN_REDIRECT): Promise<TokenResponse> {
  const res = await fetch(config.serverMetadata().token_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: config.clientMetadata().client_id }),
  });
  const body = (await res.json()) as TokenResponse & { error?: string; error_description?: string };
  if (!res.ok) throw Object.assign(new Error(`token endpoint ${res.status}: ${body.error} ${body.error_description}`), body);
  return body;
}

/**
 * Verify an ID token the way kube-apiserver does: RS256 only, byte-identical `iss`, `aud` contains
 * the client id, `exp` required with no leeway, `groups` an array of strings. Resolves the claims.
 */
export async function verifyLikeApiserver(idToken: string, issuer: string, clientId = 'kubernetes'): Promise<JWTPayload & Record<string, unknown>> {
  const discovery = (await (await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
  if (discovery.issuer !== issuer) throw new Error(`discovery issuer ${discovery.issuer} is not ${issuer}`);
  const { payload, protectedHeader } = await jwtVerify(idToken, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer,
    audience: clientId,
    algorithms: ['RS256'],
    clockTolerance: 0,
    requiredClaims: ['exp'],
  });
  if (protectedHeader.alg !== 'RS256') throw new Error(`alg ${protectedHeader.alg}`);
  const groups = payload.groups;
  if (groups !== undefined && (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string'))) throw new Error('groups is not a string array');
  return payload as JWTPayload & Record<string, unknown>;
}

/** Complete a device-code verification in the browser: enter the code, confirm, log in. Resolves the final page. */
export async function approveDevice(browser: Browser, verificationUri: string, userCode: string, username: string, password: string): Promise<Hop> {
  const input = await browser.follow(verificationUri);
  const confirm = await browser.follow(new URL(formAction(input.body)!, input.url).href, { form: { xsrf: formField(input.body, 'xsrf')!, user_code: userCode } });
  if (!confirm.body.includes('name="confirm"')) throw new Error(`no confirm form: ${confirm.body.slice(0, 400)}`);
  const login = await browser.follow(new URL(formAction(confirm.body)!, confirm.url).href, {
    form: { xsrf: formField(confirm.body, 'xsrf')!, user_code: formField(confirm.body, 'user_code')!, confirm: 'yes' },
  });
  if (!login.body.includes('name="password"')) return login;
  return submitLogin(browser, login, username, password);
}

/** For assert.rejects: the token endpoint answered invalid_grant (openid-client puts the OAuth error code on `error`). */
export function invalidGrant(err: unknown): boolean {
  assert.equal((err as { error?: string }).error, 'invalid_grant');
  return true;
}
