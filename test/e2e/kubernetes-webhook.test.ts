// Tokens from real kubelogin-shaped flows, sent to unixid's TokenReview webhook exactly as
// kube-apiserver sends them; with revocation checking on, logout takes effect at once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { approveDevice, exchangeCode, kubeloginClient, kubeloginLogin, KUBERNETES_CLIENT_YAML, startKubeloginAuthorize, submitLogin, verifyLikeApiserver } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { tokenReview } from '../harness/token-review.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS[0]!;
const bob = USERS[1]!;
const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

describe('Kubernetes TokenReview webhook with real flows', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let server: UnixidProcess;
  let config: oidc.Configuration;

  before(async () => {
    tmp = await tempDir('e2e-webhook');
    redis = await startRedis();
    const accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({
      dir: tmp.dir,
      redisUrl: redis.url,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
      configYaml: [
        'kubernetes:',
        '  groupsPrefix: "unix:"',
        '  passwordGrant: true',
        '  basicAuthToken:',
        '    enabled: true',
        '    maxSeconds: 600',
        '  webhook:',
        '    checkRevocation: true',
        KUBERNETES_CLIENT_YAML,
        '',
      ].join('\n'),
    });
    config = await kubeloginClient(server.issuer);
  });

  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  it('authenticates an authcode ID token in both API versions, mapping user, groups and extra', async () => {
    const { tokens } = await kubeloginLogin(config, new Browser(), alice.name, alice.password);
    for (const apiVersion of ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1']) {
      const { status, body } = await tokenReview(`${server.url}/authenticate`, tokens.id_token!, apiVersion, ['https://kubernetes.default.svc']);
      assert.equal(status, 200);
      assert.equal(body.apiVersion, apiVersion);
      assert.equal(body.kind, 'TokenReview');
      assert.equal(body.status.authenticated, true);
      const user = body.status.user as { username: string; uid: string; groups: string[]; extra: Record<string, string[]> };
      assert.equal(user.username, 'alice');
      assert.deepEqual(user.groups, ['unix:alice', 'unix:developers', 'unix:k8s-admins', 'unix:wheel']);
      assert.ok(user.uid.length > 10);
      for (const [k, v] of Object.entries(user.extra ?? {})) {
        assert.match(k, /^[a-z0-9.-]+\/[a-z0-9-]+$/, 'extra keys are lowercase domain-prefixed');
        assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'));
      }
      assert.deepEqual(body.status.audiences, ['https://kubernetes.default.svc'], 'audiences echoed');
      assert.equal(body.status.error, undefined);
    }
  });

  it('authenticates a device-code ID token and a refreshed one', async () => {
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    const pending = oidc.pollDeviceAuthorizationGrant(config, device);
    await approveDevice(new Browser(), device.verification_uri, device.user_code, alice.name, alice.password);
    const tokens = await pending;
    assert.equal((await tokenReview(`${server.url}/authenticate`, tokens.id_token!)).body.status.authenticated, true);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal((await tokenReview(`${server.url}/authenticate`, refreshed.id_token!)).body.status.authenticated, true);
  });

  it('rejects the same ID token at once after logout (revocation checking on)', async () => {
    const browser = new Browser();
    const { tokens } = await kubeloginLogin(config, browser, alice.name, alice.password);
    assert.equal((await tokenReview(`${server.url}/authenticate`, tokens.id_token!)).body.status.authenticated, true);
    const confirm = await browser.follow(`${server.issuer}/session/end`);
    await browser.follow(new URL(formAction(confirm.body)!, confirm.url).href, { form: { xsrf: formField(confirm.body, 'xsrf')!, logout: 'yes' } });
    const after = await tokenReview(`${server.url}/authenticate`, tokens.id_token!);
    assert.equal(after.status, 200);
    assert.equal(after.body.status.authenticated, false);
    assert.equal(after.body.status.error, undefined, 'a plain "no", which the apiserver may cache');
  });

  it('kubelogin authcode-keyboard: the code page shows a code that the terminal exchanges', async () => {
    const browser = new Browser();
    const redirectUri = `${server.issuer}/oob`;
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const login = await browser.follow(url.href);
    const shown = await submitLogin(browser, login, alice.name, alice.password);
    assert.equal(shown.status, 200, shown.body.slice(0, 300));
    const code = /id="code"[^>]*value="([^"]+)"/.exec(shown.body)?.[1];
    assert.ok(code, 'the page shows the code');
    const tokens = await exchangeCode(config, code, verifier, redirectUri);
    assert.equal((await tokenReview(`${server.url}/authenticate`, tokens.id_token!)).body.status.authenticated, true);
  });

  it('kubelogin password mode: grant_type=password returns an ID token that passes the webhook, and a refresh token', async () => {
    const res = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: alice.name, password: alice.password, scope: 'openid', client_id: 'kubernetes' }),
    });
    const body = (await res.json()) as { id_token?: string; refresh_token?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.id_token);
    const claims = await verifyLikeApiserver(body.id_token, server.issuer);
    assert.equal(claims.preferred_username, 'alice');
    assert.equal((await tokenReview(`${server.url}/authenticate`, body.id_token)).body.status.authenticated, true);
    const refreshed = await oidc.refreshTokenGrant(config, body.refresh_token!);
    assert.equal((await tokenReview(`${server.url}/authenticate`, refreshed.id_token!)).body.status.authenticated, true);

    const wrong = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: alice.name, password: 'nope', client_id: 'kubernetes' }),
    });
    assert.equal(wrong.status, 400);
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_grant');
  });

  it('pam_hook style: curl -u alice /token returns a token (lifetime capped), accepted by the webhook', async () => {
    const auth = `Basic ${Buffer.from(`${alice.name}:${alice.password}`).toString('base64')}`;
    const res = await fetch(`${server.url}/token?expires_in=99999`, { headers: { authorization: auth } });
    assert.equal(res.status, 200);
    const token = (await res.text()).trim();
    const claims = await verifyLikeApiserver(token, server.issuer);
    assert.equal(Number(claims.exp) - Number(claims.iat), 600, 'capped at maxSeconds');
    assert.equal((await tokenReview(`${server.url}/authenticate`, token)).body.status.authenticated, true);
    const short = await fetch(`${server.url}/token?expires_in=60`, { headers: { authorization: auth, accept: 'application/json' } });
    const json = (await short.json()) as { id_token: string; expires_in: number };
    assert.equal(json.expires_in, 60);
    const denied = await fetch(`${server.url}/token`, { headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` } });
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /Basic/);
    const none = await fetch(`${server.url}/token`);
    assert.equal(none.status, 401);
  });

  it('unixid revoke USER ends sessions, refresh tokens and (at the webhook) ID tokens; a new login works', async () => {
    const browser = new Browser();
    const { tokens } = await kubeloginLogin(config, browser, bob.name, bob.password);
    assert.equal((await tokenReview(`${server.url}/authenticate`, tokens.id_token!)).body.status.authenticated, true);
    // Tokens issued in the same second as the revocation count as revoked; step past it.
    await new Promise((r) => setTimeout(r, 1100));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'revoke', 'bob', '--redis-url', redis.url], { timeout: 30_000 });
    assert.match(stdout, /revoked every session and token of bob/);
    await new Promise((r) => setTimeout(r, 1100));

    assert.equal((await tokenReview(`${server.url}/authenticate`, tokens.id_token!)).body.status.authenticated, false, 'ID token refused');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (err: unknown) => (err as { error?: string }).error === 'invalid_grant');
    const again = await startKubeloginAuthorize(config, browser);
    assert.match(again.page.body, /name="password"/, 'the browser session is gone: login page again');

    const fresh = await kubeloginLogin(config, new Browser(), bob.name, bob.password);
    assert.equal((await tokenReview(`${server.url}/authenticate`, fresh.tokens.id_token!)).body.status.authenticated, true, 'a new login works');
    const unknown = await run(process.execPath, ['--import', 'tsx', CLI, 'revoke', 'nobody-here', '--redis-url', redis.url]).catch((e: { code: number }) => e);
    assert.equal((unknown as { code: number }).code, 1);
  });

  it('answers foreign and broken tokens with authenticated:false, and malformed bodies with 400', async () => {
    for (const token of ['garbage', 'a.b.c', `${'x'.repeat(100)}.${'y'.repeat(100)}.z`]) {
      const { status, body } = await tokenReview(`${server.url}/authenticate`, token);
      assert.equal(status, 200);
      assert.equal(body.status.authenticated, false);
      assert.equal(body.status.error, undefined);
    }
    const bad = await fetch(`${server.url}/authenticate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(bad.status, 400);
    const wrongKind = await fetch(`${server.url}/authenticate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }) });
    assert.equal(wrongKind.status, 400);
    assert.match(JSON.stringify(await wrongKind.json()), /apiVersion|kind/);
  });
});
