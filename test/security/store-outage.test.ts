// With the session store gone (Redis killed), every page and endpoint that needs it answers a
// clear "temporarily unavailable" (503, Retry-After) at once: the browser gets the page, API
// clients `temporarily_unavailable` they can retry; never a 500 "something went wrong", never a hang.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser, formAction, type Hop } from '../harness/http-client.js';
import { kubeloginClient, kubeloginLogin, startKubeloginAuthorize } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { assertNoStack, logsSettled } from './support.js';

const alice = USERS.find((u) => u.name === 'alice')!;
const AUTHORIZE = '/auth?client_id=kubernetes&response_type=code&scope=openid&redirect_uri=http%3A%2F%2Flocalhost%3A8000&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256';

describe('pages and endpoints while the session store is down', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let server: UnixidProcess;
  let config: oidc.Configuration;
  let refreshToken: string;
  let loggedIn: Browser;
  let openLogin: { browser: Browser; action: string };

  before(async () => {
    tmp = await tempDir('store-outage');
    redis = await startRedis();
    const accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({ dir: tmp.dir, redisUrl: redis.url, env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service } });
    config = await kubeloginClient(server.issuer);
    loggedIn = new Browser();
    refreshToken = (await kubeloginLogin(config, loggedIn, alice.name, alice.password)).tokens.refresh_token!;
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(config, browser);
    openLogin = { browser, action: new URL(formAction(page.body)!, page.url).href };
    await redis.kill();
  });
  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  function assertUnavailablePage(hop: Hop, what: string): void {
    assert.equal(hop.status, 503, `${what}: ${hop.status} ${hop.body.slice(0, 300)}`);
    assert.equal(hop.headers.get('retry-after'), '5', `${what}: Retry-After`);
    assert.match(hop.body, /<h1>Temporarily unavailable<\/h1>/, `${what}: the unavailable page`);
    assert.doesNotMatch(hop.body, /something went wrong/i);
    assertNoStack(hop.body, what);
  }

  it('a new login (GET /auth) shows the unavailable page', async () => {
    assertUnavailablePage(await new Browser().request(`${server.url}${AUTHORIZE}`), 'GET /auth');
  });

  it('a browser with a session (GET /auth) shows the unavailable page', async () => {
    assertUnavailablePage(await loggedIn.request(`${server.url}${AUTHORIZE}`), 'GET /auth with a session');
  });

  it('posting a login form opened before the outage shows the unavailable page', async () => {
    assertUnavailablePage(await openLogin.browser.request(openLogin.action, { form: { username: alice.name, password: alice.password } }), 'POST login');
  });

  it('the home page and the device page show the unavailable page', async () => {
    assertUnavailablePage(await loggedIn.request(`${server.url}/`), 'GET /');
    assertUnavailablePage(await new Browser().request(`${server.url}/device`), 'GET /device');
  });

  it('a refresh gets 503 temporarily_unavailable, which kubelogin may retry', async () => {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'kubernetes' }),
    });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
  });

  it('none of it was a 500, and the process is healthy', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    await logsSettled(server);
    const failed = server.logEntries().filter((e) => e.msg === 'request' && Number(e.status) >= 500 && e.status !== 503);
    assert.deepEqual(failed, []);
  });
});
