// State the scenarios need before they measure (tokens, refresh chains, device codes) and the
// request shapes they send. Everything is obtained from unixid itself, through its public endpoints.
import type { TestUser } from '../test/harness/unix-accounts.js';
import { runLoad } from './load.js';
import type { Credentials, LoadResult, LoadSpec, RequestTemplate } from './load-spec.js';
import { CLIENT_ID, pathOf, REDIRECT_URI, type Discovery } from './stack.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

/** A TokenReview POSTed the way kube-apiserver does it (v1, with its metadata/status stubs). */
export function reviewRequest(token: string, path = '/authenticate'): RequestTemplate {
  return {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', accept: 'application/json, */*' },
    body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token }, status: {} }),
  };
}

function basic(u: TestUser): string {
  return `Basic ${Buffer.from(`${u.name}:${u.password}`).toString('base64')}`;
}

/** Run `requests` `count` times from the load worker and resolve the bodies; rejects when any failed. */
async function collect(target: string, requests: RequestTemplate[], count: number, concurrency = 4): Promise<{ bodies: string[]; result: LoadResult }> {
  const spec: LoadSpec = {
    target,
    flow: { kind: 'requests', requests, collectBodies: true },
    mode: { kind: 'closed', concurrency, seconds: 600, operations: count },
    warmupSeconds: 0,
    requestTimeoutMs: 30_000,
  };
  const result = await runLoad(spec);
  if (result.errors > 0 || result.collected!.length < count) {
    throw new Error(`preparing state: ${result.errors} of ${result.operations} requests failed: ${result.errorSamples.join(' | ')}`);
  }
  return { bodies: result.collected!, result };
}

/**
 * `count` distinct ID tokens minted by unixid's basic-auth /token endpoint (pam_hook style: a PAM
 * login, a grant and an RS256 signature each), valid for an hour. Resolves them and the minting run.
 */
export async function mintTokens(target: string, users: TestUser[], count: number): Promise<{ tokens: string[]; result: LoadResult }> {
  const requests = users.map((u): RequestTemplate => ({ method: 'GET', path: '/token?expires_in=3600', headers: { authorization: basic(u), accept: 'text/plain' } }));
  const { bodies, result } = await collect(target, requests, count);
  return { tokens: bodies.map((b) => b.trim()), result };
}

/** One refresh token per user from the password grant (kubelogin's password mode). */
export async function refreshTokens(target: string, discovery: Discovery, users: TestUser[]): Promise<string[]> {
  const requests = users.map((u): RequestTemplate => ({
    method: 'POST',
    path: pathOf(discovery.token_endpoint),
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'password', username: u.name, password: u.password, scope: 'openid', client_id: CLIENT_ID }).toString(),
  }));
  // One at a time, so token i belongs to user i.
  const { bodies } = await collect(target, requests, users.length, 1);
  return bodies.map((b) => {
    const t = (JSON.parse(b) as { refresh_token?: string }).refresh_token;
    if (!t) throw new Error('the password grant issued no refresh token');
    return t;
  });
}

/** `count` pending device authorizations; resolves their device codes. */
export async function deviceCodes(target: string, discovery: Discovery, count: number): Promise<string[]> {
  const request: RequestTemplate = {
    method: 'POST',
    path: pathOf(discovery.device_authorization_endpoint),
    headers: FORM,
    body: new URLSearchParams({ client_id: CLIENT_ID, scope: 'openid' }).toString(),
  };
  const { bodies } = await collect(target, [request], count);
  return bodies.map((b) => (JSON.parse(b) as { device_code: string }).device_code);
}

/** A device-code poll as kubelogin sends it. */
export function devicePoll(discovery: Discovery, deviceCode: string): RequestTemplate {
  return {
    method: 'POST',
    path: pathOf(discovery.token_endpoint),
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: CLIENT_ID }).toString(),
  };
}

/** The browser login flow spec for `users` (expect tokens, or a refusal for wrong passwords). */
export function loginFlowSpec(discovery: Discovery, users: Credentials[], expect: 'tokens' | 'refused' = 'tokens', refusedStatus?: number[]) {
  return {
    kind: 'login' as const,
    authorizePath: pathOf(discovery.authorization_endpoint),
    tokenPath: pathOf(discovery.token_endpoint),
    clientId: CLIENT_ID,
    redirectUri: REDIRECT_URI,
    users,
    expect,
    ...(refusedStatus ? { refusedStatus } : {}),
  };
}
