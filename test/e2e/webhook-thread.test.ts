// kubernetes.webhook.port: the TokenReview webhook on a port and thread of its own. It must answer
// exactly as the main-port webhook does (users, groups, revocation, key rotation), feed /metrics
// and /readyz of the main port, and leave the main port without the webhook path.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import type * as oidc from 'openid-client';
import type { PrivateJwk } from '../../src/keys/jwk.js';
import { generateSigningJwk } from '../../src/keys/load-keys.js';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { kubeloginClient, kubeloginLogin, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { tokenReview } from '../harness/token-review.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS[0]!;

describe('TokenReview webhook on its own port and thread', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let server: UnixidProcess;
  let config: oidc.Configuration;
  let hook: string;
  let keyFile: string;
  let keyA: PrivateJwk;
  const writeKeys = (keys: PrivateJwk[]) => writeFile(keyFile, JSON.stringify({ keys }), { mode: 0o600 });
  /** An ID token from the basic-auth endpoint (a PAM login and a grant). */
  const mint = async () => {
    const res = await fetch(`${server.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${alice.name}:${alice.password}`).toString('base64')}` } });
    assert.equal(res.status, 200);
    return (await res.text()).trim();
  };

  before(async () => {
    tmp = await tempDir('e2e-webhook-thread');
    redis = await startRedis();
    const accounts = await createUnixAccounts(tmp.dir);
    keyFile = join(tmp.dir, 'signing-keys.json');
    keyA = await generateSigningJwk();
    await writeKeys([keyA]);
    const port = await freePort();
    hook = `http://127.0.0.1:${port}/authenticate`;
    server = await startUnixid({
      dir: tmp.dir,
      redisUrl: redis.url,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service, UNIXID_SIGNING_KEY_FILE: keyFile, UNIXID_WEBHOOK_PORT: String(port) },
      configYaml: [
        'kubernetes:',
        '  groupsPrefix: "unix:"',
        '  passwordGrant: true',
        '  basicAuthToken: {enabled: true, maxSeconds: 600}',
        '  webhook: {checkRevocation: true}',
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

  it('answers reviews on its port, in both API versions, and the main port no longer serves the path', async () => {
    const token = await mint();
    for (const apiVersion of ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1']) {
      const { status, body } = await tokenReview(hook, token, apiVersion);
      assert.equal(status, 200);
      assert.equal(body.apiVersion, apiVersion);
      assert.equal(body.status.authenticated, true);
      const user = body.status.user as { username: string; groups: string[] };
      assert.equal(user.username, 'alice');
      assert.ok(user.groups.includes('unix:developers'), user.groups.join(','));
    }
    assert.equal((await tokenReview(hook, 'not-a-token')).body.status.authenticated, false);
    const main = await fetch(`${server.url}/authenticate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(main.status, 404, 'the main port has no webhook when it has a port of its own');
    await server.waitForLog(/TokenReview webhook listening on its own thread/);
  });

  it('gives malformed bodies and other paths a 4xx with a reason', async () => {
    const bad = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apiVersion":' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /JSON/);
    const other = await fetch(hook.replace('/authenticate', '/token'));
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { error: string }).error, /only the TokenReview webhook/);
    const get = await fetch(hook);
    assert.equal(get.status, 405);
  });

  it("counts its reviews in the main port's /metrics and reports in /readyz", async () => {
    const read = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/unixid_token_reviews_total\{outcome="authenticated"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await read();
    const token = await mint();
    for (let i = 0; i < 3; i++) assert.equal((await tokenReview(hook, token)).body.status.authenticated, true);
    await waitFor('the counts flushed to /metrics', async () => (await read()) >= before + 3, 5000, 100);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.match(await ready.text(), /webhook/);
  });

  it('refuses a token at once after logout (revocation lookups go through the main thread)', async () => {
    const browser = new Browser();
    const { tokens } = await kubeloginLogin(config, browser, alice.name, alice.password);
    assert.equal((await tokenReview(hook, tokens.id_token!)).body.status.authenticated, true);
    const confirm = await browser.follow(`${server.issuer}/session/end`);
    await browser.follow(new URL(formAction(confirm.body)!, confirm.url).href, { form: { xsrf: formField(confirm.body, 'xsrf')!, logout: 'yes' } });
    const after = await tokenReview(hook, tokens.id_token!);
    assert.equal(after.status, 200);
    assert.equal(after.body.status.authenticated, false);
  });

  it('follows a key rotation: the new key verifies, the removed one no longer does', async () => {
    const old = await mint();
    const keyB = await generateSigningJwk();
    await writeKeys([keyB, keyA]);
    let fresh = '';
    await waitFor('B signing', async () => decodeProtectedHeader((fresh = await mint())).kid === keyB.kid, 15_000, 250);
    assert.equal((await tokenReview(hook, fresh)).body.status.authenticated, true, 'a B-signed token, seen first by the thread after the change');
    assert.equal((await tokenReview(hook, old)).body.status.authenticated, true, 'A stays published');
    await writeKeys([keyB]);
    await waitFor('A refused on the webhook port', async () => (await tokenReview(hook, old)).body.status.authenticated === false, 15_000, 250);
    assert.equal((await tokenReview(hook, fresh)).body.status.authenticated, true);
  });
});
