// Tokens from real kubelogin-shaped flows, sent to unixid's TokenReview webhook exactly as
// kube-apiserver sends them; with revocation checking on, logout takes effect at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { approveDevice, kubeloginClient, kubeloginLogin } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS[0]!;

/** POST a TokenReview the way kube-apiserver does (with its metadata/status stubs). */
export async function tokenReview(url: string, token: string, apiVersion = 'authentication.k8s.io/v1', audiences?: string[]) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, */*' },
    body: JSON.stringify({ apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token, ...(audiences ? { audiences } : {}) }, status: {} }),
  });
  return { status: res.status, body: (await res.json()) as { apiVersion: string; kind: string; status: Record<string, unknown> } };
}

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
      configYaml: 'kubernetes:\n  groupsPrefix: "unix:"\n  webhook:\n    checkRevocation: true\n',
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
