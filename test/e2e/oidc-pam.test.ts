// The foundation flow end to end, as kubelogin and kube-apiserver see it: a real redis-server,
// the real libpam (pam_wrapper + pam_matrix) and NSS (nss_wrapper), unixid as its own process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { approveDevice, kubeloginClient, kubeloginLogin, startKubeloginAuthorize, submitLogin, verifyLikeApiserver, invalidGrant } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS.find((u) => u.name === 'alice')!;
const bob = USERS.find((u) => u.name === 'bob')!;
const carol = USERS.find((u) => u.name === 'carol')!;


describe('foundation: PAM + NSS + Redis, kubelogin-shaped flows', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let accounts: UnixAccounts;
  let server: UnixidProcess;
  let config: oidc.Configuration;

  async function start(port?: number): Promise<UnixidProcess> {
    return startUnixid({
      dir: tmp.dir,
      redisUrl: redis.url,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service, UNIXID_NSS_CACHE_TTL_SECONDS: '30' },
      ...(port ? { port } : {}),
    });
  }

  before(async () => {
    tmp = await tempDir('e2e-pam');
    redis = await startRedis();
    accounts = await createUnixAccounts(tmp.dir);
    server = await start();
    config = await kubeloginClient(server.issuer);
  });

  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  it('publishes discovery and JWKS that kube-apiserver and kubelogin can use', async () => {
    const doc = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(doc.issuer, server.issuer);
    assert.equal(doc.jwks_uri, `${server.issuer}/jwks`);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.ok((doc.id_token_signing_alg_values_supported as string[]).includes('RS256'));
    assert.ok(typeof doc.device_authorization_endpoint === 'string');
    assert.ok((doc.grant_types_supported as string[]).includes('refresh_token'));
    const jwks = (await (await fetch(doc.jwks_uri as string)).json()) as { keys: Record<string, unknown>[] };
    assert.ok(jwks.keys.length >= 1);
    for (const k of jwks.keys) {
      assert.equal(k.kty, 'RSA');
      assert.equal(k.d, undefined, 'no private parts in the JWKS');
      assert.ok(k.kid);
    }
  });

  it('logs alice in like kubelogin (loopback redirect, PKCE, no offline_access) and the ID token passes the apiserver checks', async () => {
    const { tokens } = await kubeloginLogin(config, new Browser(), alice.name, alice.password);
    assert.ok(tokens.id_token, 'an ID token');
    assert.ok(tokens.refresh_token, 'a refresh token without offline_access or prompt=consent');
    const claims = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'alice');
    assert.equal(claims.name, 'Alice Liddell');
    assert.equal(claims.uid_number, 2001);
    assert.deepEqual(claims.groups, ['alice', 'developers', 'k8s-admins', 'wheel']);
    assert.match(String(claims.sub), /^[A-Za-z0-9_-]{20,}$/);
    assert.ok(Number(claims.exp) - Number(claims.iat) <= 900, 'short-lived ID token');
  });

  it('refresh returns a new ID token and re-reads groups from NSS; a disabled account gets invalid_grant', async () => {
    const { tokens } = await kubeloginLogin(config, new Browser(), bob.name, bob.password);
    const first = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.deepEqual(first.groups, ['bob', 'developers']);

    await accounts.setUsers(USERS.map((u) => (u.name === 'bob' ? { ...u, groups: ['developers', 'release-managers'] } : u)));
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.id_token);
    assert.notEqual(refreshed.id_token, tokens.id_token);
    const second = await verifyLikeApiserver(refreshed.id_token!, server.issuer);
    assert.deepEqual(second.groups, ['bob', 'developers', 'release-managers'], 'groups re-read on refresh');
    assert.equal(second.sub, first.sub, 'same subject');

    // The account phase now denies bob (expired/locked): the next refresh is refused.
    await accounts.setUsers(USERS.map((u) => (u.name === 'bob' ? { ...u, accountAllowed: false } : u)));
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), invalidGrant);
    await server.waitForLog(/account re-check refused.*PAM_PERM_DENIED|PAM_PERM_DENIED.*account re-check refused/);

    // Deleted from NSS altogether: also refused.
    await accounts.setUsers(USERS);
    const again = await kubeloginLogin(config, new Browser(), bob.name, bob.password);
    await accounts.setUsers(USERS.filter((u) => u.name !== 'bob'));
    await assert.rejects(oidc.refreshTokenGrant(config, again.tokens.refresh_token!), invalidGrant);
    await accounts.setUsers(USERS);
  });

  it('shows one message for a wrong password, an unknown user and a locked account, and logs each reason', async () => {
    const bodies: string[] = [];
    for (const [user, pass] of [
      [alice.name, 'not-her-password'],
      ['nosuchuser', 'whatever-1'],
      [carol.name, carol.password],
    ] as const) {
      const browser = new Browser();
      const { page } = await startKubeloginAuthorize(config, browser);
      const result = await submitLogin(browser, page, user, pass);
      assert.equal(result.status, 401, `${user}: 401`);
      assert.match(result.body, /Invalid username or password\./);
      assert.ok(!result.location, 'no redirect back to the client');
      bodies.push(result.body.replace(/value="[^"]*"/g, '').replace(/nonce="[^"]*"/g, '').replace(/\/interaction\/[^/"]+/g, ''));
    }
    assert.equal(new Set(bodies.map((b) => b.replace(/request id[^<]*/gi, ''))).size, 1, 'the three pages are identical');
    // The log is written asynchronously: the pages can arrive before their lines.
    await server.waitForLog(/"reason":"access_denied".*"msg":"login failed"|"msg":"login failed".*"reason":"access_denied"/);
    const failed = server.logEntries().filter((e) => e.msg === 'login failed');
    const reasons = failed.map((e) => `${e.username ?? `fp=${e.userFp}`}:${e.reason}`);
    assert.ok(reasons.includes('alice:wrong_password'), reasons.join(','));
    assert.ok(reasons.includes('carol:access_denied'), reasons.join(','));
    // A name that is no account may be a password typed into the wrong field: only its fingerprint is logged.
    const unknown = failed.find((e) => e.reason === 'unknown_user');
    assert.ok(unknown && unknown.username === undefined && /^[A-Za-z0-9_-]{16}$/.test(String(unknown.userFp)), reasons.join(','));
    assert.notEqual(unknown.userFp, failed.find((e) => e.username === 'alice')?.userFp);
    const all = server.logs.join('\n');
    assert.ok(!all.includes('nosuchuser'), 'the unrecognised name appears nowhere in the logs');
    assert.ok(!all.includes('not-her-password') && !all.includes(carol.password), 'no password in the logs');
  });

  it('refuses bad usernames before PAM sees them and keeps the form usable', async () => {
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(config, browser);
    const result = await submitLogin(browser, page, 'alice\u0000', alice.password);
    assert.equal(result.status, 401);
    const missing = await browser.request(new URL(formAction(result.body)!, result.url).href, { form: { username: 'alice' } });
    assert.equal(missing.status, 400);
    assert.match(missing.body, /Enter your username and password/);
  });

  it('runs the device-code flow (kubelogin --grant-type=device-code) end to end', async () => {
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    assert.ok(device.user_code && device.device_code && device.verification_uri);
    assert.ok(device.verification_uri_complete);
    const pending = oidc.pollDeviceAuthorizationGrant(config, device);
    const done = await approveDevice(new Browser(), device.verification_uri, device.user_code, alice.name, alice.password);
    assert.match(done.body, /close this window/i);
    const tokens = await pending;
    const claims = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'alice');
    assert.ok(tokens.refresh_token);
  });

  it('logout ends the browser session and revokes its refresh tokens', async () => {
    const browser = new Browser();
    const { tokens } = await kubeloginLogin(config, browser, alice.name, alice.password);
    // Still logged in: a second authorize skips the login page.
    const again = await startKubeloginAuthorize(config, browser);
    assert.ok(again.page.location?.startsWith('http://localhost:8000'), 'session reused without a login page');

    const confirm = await browser.follow(`${server.issuer}/session/end`);
    assert.match(confirm.body, /name="logout"/);
    const out = await browser.follow(new URL(formAction(confirm.body)!, confirm.url).href, { form: { xsrf: formField(confirm.body, 'xsrf')!, logout: 'yes' } });
    assert.match(out.body, /logged out/i);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), invalidGrant);
    const after = await startKubeloginAuthorize(config, browser);
    assert.match(after.page.body, /name="password"/, 'the login page is shown again');
  });

  it('keeps sessions, grants and refresh tokens across a restart (Redis)', async () => {
    const browser = new Browser();
    const { tokens } = await kubeloginLogin(config, browser, alice.name, alice.password);
    const port = server.port;
    assert.equal(await server.stop(), 0, 'SIGTERM exits 0');
    server = await start(port);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const claims = await verifyLikeApiserver(refreshed.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'alice');
    const again = await startKubeloginAuthorize(config, browser);
    assert.ok(again.page.location?.startsWith('http://localhost:8000'), 'browser session survived the restart');
  });
});
