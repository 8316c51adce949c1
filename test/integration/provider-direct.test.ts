// oidc-provider's authorization, resume and token endpoints, and unixid's interaction pages (the
// login form and its post), are served before express. Checked on a real `unixid serve` with real
// PAM and Redis: a whole kubelogin login goes through them; each of their answers still has what
// express gives every answer (X-Request-Id, kept when sane, the page policy and security headers,
// one access log line without the query, the HTTP metrics) and express's error page and form
// parser limits; and the basic-auth endpoint that shares the token path (GET /token) is still
// unixid's own.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { KUBELOGIN_REDIRECT, KUBERNETES_CLIENT_YAML, kubeloginClient, kubeloginLogin, startKubeloginAuthorize, submitLogin } from '../harness/oidc-flows.js';
import { startRedis } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS.find((u) => u.name === 'alice')!;

/** A unixid on real Redis and PAM (pam_matrix, nss_wrapper) with `yaml` lines of config; stop() ends all three. */
async function startWithPam(name: string, yaml: string[]): Promise<{ server: UnixidProcess; stop(): Promise<void> }> {
  const tmp = await tempDir(name);
  const redis = await startRedis();
  const accounts = await createUnixAccounts(tmp.dir);
  const server = await startUnixid({
    dir: tmp.dir,
    redisUrl: redis.url,
    env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
    configYaml: [...yaml, 'kubernetes:', '  passwordGrant: true', '  basicAuthToken:', '    enabled: true', KUBERNETES_CLIENT_YAML, ''].join('\n'),
  });
  return {
    server,
    async stop() {
      await server.stop();
      await redis.dispose();
      await tmp.remove();
    },
  };
}

/**
 * A server for one describe block: started before its tests, stopped after them. `accessLine`
 * waits for the access log line of one request id (pino writes asynchronously).
 */
function serverFor(name: string, yaml: string[] = []) {
  const h = {} as { stack: Awaited<ReturnType<typeof startWithPam>>; server: UnixidProcess; config: oidc.Configuration; accessLine(reqId: string): Promise<Record<string, unknown>> };
  before(async () => {
    h.stack = await startWithPam(name, yaml);
    h.server = h.stack.server;
    h.config = await kubeloginClient(h.server.issuer);
  });
  after(async () => {
    await h.stack?.stop();
  });
  h.accessLine = async (reqId) => {
    await h.server.waitForLog(new RegExp(`"reqId":"${reqId}".*"msg":"request"`));
    return h.server.logEntries().find((e) => e.reqId === reqId && e.msg === 'request')!;
  };
  return h;
}

describe('provider endpoints served before express', () => {
  const h = serverFor('provider-direct');

  function assertLockedDown(res: Response, what: string): void {
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/, `${what}: page policy`);
    assert.match(csp, /script-src 'nonce-[A-Za-z0-9+/=]{24}'/, `${what}: a nonce of its own`);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', what);
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, `${what}: a request id`);
  }

  it('a kubelogin login goes through authorize, resume and the code exchange', async () => {
    const { tokens } = await kubeloginLogin(h.config, new Browser(), alice.name, alice.password);
    assert.ok(tokens.id_token && tokens.refresh_token);
  });

  it('authorize: a 303 to the login page with the security headers, a request id and an access line without the query', async () => {
    const url = `${h.server.url}/auth?client_id=kubernetes&response_type=code&scope=openid&redirect_uri=http://localhost:8000&state=secret-state-value&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
    const res = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location') ?? '', /^\/interaction\//);
    assertLockedDown(res, 'authorize');
    const line = await h.accessLine(res.headers.get('x-request-id')!);
    assert.deepEqual([line.method, line.path, line.status, line.ip], ['GET', '/auth', 303, '127.0.0.1']);
    assert.ok(!JSON.stringify(line).includes('secret-state-value'), 'no query in the log');
  });

  it('resume of an unknown interaction: the error page, nonce in the page matching the header', async () => {
    const res = await fetch(`${h.server.url}/auth/no-such-interaction`, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    assertLockedDown(res, 'resume');
    const nonce = /'nonce-([^']+)'/.exec(res.headers.get('content-security-policy')!)![1]!;
    assert.ok((await res.text()).includes(`nonce="${nonce}"`), 'the page uses the nonce its header allows');
  });

  it('token: a sane X-Request-Id is kept; a bad grant is a 400 with a reason; the answer is logged and counted', async () => {
    const res = await fetch(`${h.server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'trace-direct-1' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope', redirect_uri: 'http://localhost:8000', code_verifier: 'v'.repeat(43), client_id: 'kubernetes' }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    assert.equal(res.headers.get('x-request-id'), 'trace-direct-1');
    const line = await h.accessLine('trace-direct-1');
    assert.deepEqual([line.method, line.path, line.status], ['POST', '/token', 400]);
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    assert.match(metrics, /unixid_http_request_duration_seconds_count\{[^}]*method="POST"[^}]*status="400"[^}]*\} [1-9]/, 'the 400 is in the HTTP metrics');
  });

  it('GET /token is still the basic-auth endpoint (unixid\'s own route on the same path)', async () => {
    const asked = await fetch(`${h.server.url}/token`);
    assert.equal(asked.status, 401);
    assert.match(asked.headers.get('www-authenticate') ?? '', /^Basic /);
    const res = await fetch(`${h.server.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${alice.name}:${alice.password}`).toString('base64')}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });
});

describe('interaction pages served before express', () => {
  const h = serverFor('interaction-direct');

  function assertPage(hop: { headers: Headers; body: string }, what: string): void {
    const csp = hop.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/, `${what}: page policy`);
    assert.equal(hop.headers.get('x-frame-options'), 'DENY', what);
    assert.equal(hop.headers.get('x-content-type-options'), 'nosniff', what);
    assert.equal(hop.headers.get('cache-control'), 'no-store', what);
    assert.equal(hop.headers.get('content-type'), 'text/html; charset=utf-8', what);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce && hop.body.includes(`nonce="${nonce}"`), `${what}: the page uses the nonce its header allows`);
    assert.match(hop.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, `${what}: a request id`);
  }

  it('the login page, a wrong password and the right one: each answer logged, counted and locked down', async () => {
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(h.config, browser);
    assert.equal(page.status, 200);
    assertPage(page, 'login page');
    const uid = /\/interaction\/([^/?#]+)$/.exec(page.url)![1]!;
    const shown = await h.accessLine(page.headers.get('x-request-id')!);
    assert.deepEqual([shown.method, shown.path, shown.status, shown.ip], ['GET', `/interaction/${uid}`, 200, '127.0.0.1']);

    const wrong = await browser.request(new URL(formAction(page.body)!, page.url).href, { form: { username: alice.name, password: 'not-the-password' } });
    assert.equal(wrong.status, 401);
    assertPage(wrong, 'wrong password');
    assert.match(wrong.body, /Invalid username or password/);
    assert.match(wrong.body, new RegExp(`value="${alice.name}"`), 'the username is kept in the form');
    const failed = h.server.logEntries().find((e) => e.msg === 'login failed' && e.reqId === wrong.headers.get('x-request-id'));
    assert.equal(failed?.ip, '127.0.0.1', 'the failure is logged under the request id, with the client address');

    const done = await submitLogin(browser, wrong, alice.name, alice.password);
    assert.ok(done.location?.startsWith(KUBELOGIN_REDIRECT), 'the right password ends at the client with a code');
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    assert.match(metrics, /unixid_http_request_duration_seconds_count\{route="\/interaction\/:uid",method="GET",status="200"\} [1-9]/);
    assert.match(metrics, /unixid_http_request_duration_seconds_count\{route="\/interaction\/:uid\/login",method="POST",status="401"\} [1-9]/);
    assert.match(metrics, /unixid_http_request_duration_seconds_count\{route="\/interaction\/:uid\/login",method="POST",status="303"\} [1-9]/);
  });

  it('an interaction that does not exist: the error page for a browser, JSON for an API client, both with the request id', async () => {
    const html = await new Browser().request(`${h.server.url}/interaction/no-such-uid`);
    assert.equal(html.status, 400);
    assertPage(html, 'error page');
    assert.ok(html.body.includes(html.headers.get('x-request-id')!), 'the page shows the request id');

    const res = await fetch(`${h.server.url}/interaction/no-such-uid/login`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'trace-interaction-1' },
      body: 'username=a&password=b',
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as { error: string; error_description: string; request_id: string };
    assert.equal(body.request_id, 'trace-interaction-1');
    assert.ok(body.error && body.error_description, 'an error and a reason');
    const line = await h.accessLine('trace-interaction-1');
    assert.deepEqual([line.method, line.status], ['POST', 400]);
  });

  it("the form parser's limits, before the interaction is looked up: 413 over 16 KB, 415 for an unknown charset, 400 for a bad encoding", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${h.server.url}/interaction/any/login`, { method: 'POST', headers: { accept: 'application/json', ...headers }, body });
    const big = await post({ 'content-type': 'application/x-www-form-urlencoded' }, `username=a&password=${'p'.repeat(17 * 1024)}`);
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: string }).error, 'payload_too_large');
    const charset = await post({ 'content-type': 'application/x-www-form-urlencoded; charset=koi8-r' }, 'username=a&password=b');
    assert.equal(charset.status, 415);
    const encoding = await post({ 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, 'not gzip at all');
    assert.equal(encoding.status, 400);
  });

  it('HEAD of the login page has its headers and no body; methods the pages do not serve are 404', async () => {
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(h.config, browser);
    const head = await fetch(page.url, { method: 'HEAD', headers: { cookie: browser.cookieHeader(), accept: 'text/html' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.ok(Number(head.headers.get('content-length')) > 0, 'the length of the page it would send');
    assert.equal(await head.text(), '');
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${page.url}/login`, { method, headers: { accept: 'application/json' } });
      assert.equal(res.status, 404, `${method} /interaction/<uid>/login`);
    }
  });
});

describe('the device confirmation page names the address the trusted proxy saw', () => {
  let stack: Awaited<ReturnType<typeof startWithPam>>;
  let server: UnixidProcess;

  before(async () => {
    stack = await startWithPam('device-info', ['server:', '  trustProxy: loopback']);
    server = stack.server;
  });

  after(async () => {
    await stack?.stop();
  });

  it('not the address a client put first in X-Forwarded-For', async () => {
    // The loopback proxy appends what it saw (203.0.113.50); the client chose 10.0.0.5 to look internal.
    const started = await fetch(`${server.url}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '10.0.0.5, 203.0.113.50' },
      body: new URLSearchParams({ client_id: 'kubernetes', scope: 'openid' }),
    });
    assert.equal(started.status, 200);
    const { user_code: userCode, verification_uri: verificationUri } = (await started.json()) as { user_code: string; verification_uri: string };
    const browser = new Browser();
    const input = await browser.follow(verificationUri);
    const confirm = await browser.follow(new URL(formAction(input.body)!, input.url).href, { form: { xsrf: formField(input.body, 'xsrf')!, user_code: userCode } });
    assert.match(confirm.body, /The request came from <code>203\.0\.113\.50<\/code>/);
    assert.doesNotMatch(confirm.body, /10\.0\.0\.5/);
  });
});
