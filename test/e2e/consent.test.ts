// The consent page of a client that is not first-party (allow, deny), and the consent a
// first-party client gets implied when the browser already has a session: every way an
// interaction is finished besides the login form itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser, formAction, type Hop } from '../harness/http-client.js';
import { KUBELOGIN_REDIRECT, exchangeCode, kubeloginClient, kubeloginLogin, startKubeloginAuthorize, submitLogin, verifyLikeApiserver } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS.find((u) => u.name === 'alice')!;

const CONFIG = [
  'clients:',
  '  - client_id: kubernetes',
  '    application_type: native',
  '    token_endpoint_auth_method: none',
  '    redirect_uris: ["http://localhost"]',
  '  - client_id: dashboard',
  '    client_name: Team Dashboard',
  '    application_type: native',
  '    token_endpoint_auth_method: none',
  '    redirect_uris: ["http://localhost"]',
  '    firstParty: false',
].join('\n');

describe('consent: third-party clients ask, first-party clients imply it', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let accounts: UnixAccounts;
  let server: UnixidProcess;
  let dashboard: oidc.Configuration;
  let kubernetes: oidc.Configuration;

  before(async () => {
    tmp = await tempDir('e2e-consent');
    redis = await startRedis();
    accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({ dir: tmp.dir, redisUrl: redis.url, configYaml: CONFIG, env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service } });
    dashboard = await kubeloginClient(server.issuer, 'dashboard');
    kubernetes = await kubeloginClient(server.issuer, 'kubernetes');
  });

  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  /** Log alice in for the dashboard: resolves the consent page and what the code exchange needs. */
  async function untilConsent(browser: Browser) {
    const start = await startKubeloginAuthorize(dashboard, browser);
    const consent = await submitLogin(browser, start.page, alice.name, alice.password);
    assert.equal(consent.status, 200, consent.body.slice(0, 300));
    assert.match(consent.body, /Allow access/);
    assert.match(consent.body, /Team Dashboard/);
    return { ...start, consent };
  }

  function decide(browser: Browser, consent: Hop, decision: 'allow' | 'deny'): Promise<Hop> {
    return browser.follow(new URL(formAction(consent.body)!, consent.url).href, { form: { decision } }, (loc) => loc.startsWith(KUBELOGIN_REDIRECT));
  }

  it('allow: the browser goes back with a code that exchanges for tokens', async () => {
    const browser = new Browser();
    const { consent, verifier, state } = await untilConsent(browser);
    const back = await decide(browser, consent, 'allow');
    assert.ok(back.location?.startsWith(KUBELOGIN_REDIRECT), `status ${back.status}: ${back.body.slice(0, 300)}`);
    const params = new URL(back.location).searchParams;
    assert.equal(params.get('state'), state);
    const tokens = await exchangeCode(dashboard, params.get('code')!, verifier);
    const claims = await verifyLikeApiserver(tokens.id_token!, server.issuer, 'dashboard');
    assert.equal(claims.preferred_username, 'alice');
  });

  it('deny: the browser goes back with access_denied and no code', async () => {
    const browser = new Browser();
    const { consent, state } = await untilConsent(browser);
    const back = await decide(browser, consent, 'deny');
    assert.ok(back.location?.startsWith(KUBELOGIN_REDIRECT), `status ${back.status}: ${back.body.slice(0, 300)}`);
    const params = new URL(back.location).searchParams;
    assert.equal(params.get('error'), 'access_denied');
    assert.equal(params.get('state'), state);
    assert.equal(params.get('code'), null);
  });

  it('a first-party client with a session already there gets its consent implied: straight back with a code', async () => {
    const browser = new Browser();
    const { consent } = await untilConsent(browser);
    await decide(browser, consent, 'deny');
    // The session from that login stands; the kubernetes client needs only consent, which is implied.
    const { page, verifier } = await startKubeloginAuthorize(kubernetes, browser);
    assert.ok(page.location?.startsWith(KUBELOGIN_REDIRECT), `status ${page.status}: ${page.body.slice(0, 300)}`);
    const tokens = await exchangeCode(kubernetes, new URL(page.location).searchParams.get('code')!, verifier);
    assert.equal((await verifyLikeApiserver(tokens.id_token!, server.issuer)).preferred_username, 'alice');
    // And a fresh browser still has to log in.
    await kubeloginLogin(kubernetes, new Browser(), alice.name, alice.password);
  });
});
