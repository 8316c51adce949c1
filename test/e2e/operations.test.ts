// Production operations with real processes: two replicas on one Redis, signing-key rotation
// without a 401, graceful SIGTERM, metrics that move, and an audit trail without secrets.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { generateSigningJwk } from '../../src/keys/load-keys.js';
import type { PrivateJwk } from '../../src/keys/jwk.js';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { kubeloginClient, kubeloginLogin, verifyLikeApiserver } from '../harness/oidc-flows.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { tokenReview } from '../harness/token-review.js';

const alice = USERS[0]!;
const bob = USERS[1]!;


describe('operations', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let accounts: UnixAccounts;
  const cookieKeys = `${randomBytes(24).toString('base64url')},${randomBytes(24).toString('base64url')}`;

  before(async () => {
    tmp = await tempDir('ops');
    redis = await startRedis();
    accounts = await createUnixAccounts(tmp.dir);
  });
  after(async () => {
    await redis?.dispose();
    await tmp?.remove();
  });

  const env = (extra: Record<string, string> = {}) => ({ ...accounts.env, UNIXID_PAM_SERVICE: accounts.service, UNIXID_COOKIE_KEYS: cookieKeys, ...extra });

  it('two replicas on one Redis continue each other\'s flows: log in on A, refresh and review on B, log out on A, refresh on B fails', async () => {
    const issuerPort = await freePort();
    // Both replicas serve the same issuer (as behind one Service); B listens elsewhere.
    const a = await startUnixid({ dir: join(tmp.dir), port: issuerPort, redisUrl: redis.url, env: env() });
    const b = await startUnixid({ dir: join(tmp.dir), redisUrl: redis.url, env: env({ UNIXID_ISSUER: a.issuer }) });
    try {
      const browser = new Browser();
      const configA = await kubeloginClient(a.issuer);
      const { tokens } = await kubeloginLogin(configA, browser, alice.name, alice.password);
      const jwksA = await (await fetch(`${a.url}/jwks`)).json();
      assert.deepEqual(await (await fetch(`${b.url}/jwks`)).json(), jwksA, 'both replicas publish the same keys');

      const refreshed = await fetch(`${b.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'kubernetes' }),
      });
      const body = (await refreshed.json()) as { id_token: string; refresh_token: string };
      assert.equal(refreshed.status, 200, JSON.stringify(body));
      assert.equal((await tokenReview(`${b.url}/authenticate`, body.id_token)).body.status.authenticated, true, 'B accepts the token A issued');

      const confirm = await browser.follow(`${a.url}/session/end`);
      await browser.follow(new URL(formAction(confirm.body)!, confirm.url).href, { form: { xsrf: formField(confirm.body, 'xsrf')!, logout: 'yes' } });
      const after = await fetch(`${b.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: 'kubernetes' }),
      });
      assert.equal(after.status, 400);
      assert.equal(((await after.json()) as { error: string }).error, 'invalid_grant');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('rotates signing keys from a key file without a 401: the next key is published before it signs, old tokens keep verifying', async () => {
    const keyFile = join(tmp.dir, 'signing-keys.json');
    const keyA: PrivateJwk = await generateSigningJwk();
    const keyB: PrivateJwk = await generateSigningJwk();
    const write = (keys: PrivateJwk[]) => writeFile(keyFile, JSON.stringify({ keys }), { mode: 0o600 });
    await write([keyA]);
    const server = await startUnixid({ dir: tmp.dir, env: env({ UNIXID_SIGNING_KEY_FILE: keyFile }) });
    try {
      const config = await kubeloginClient(server.issuer);
      const kids = async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      const signedBy = async () => decodeProtectedHeader((await kubeloginLogin(config, new Browser(), bob.name, bob.password)).tokens.id_token!).kid;
      const old = await kubeloginLogin(config, new Browser(), alice.name, alice.password);
      assert.equal(decodeProtectedHeader(old.tokens.id_token!).kid, keyA.kid);

      // Step 1: publish B next to A. It appears in the JWKS; A still signs.
      await write([keyA, keyB]);
      await waitFor('key B in the JWKS', async () => (await kids()).includes(keyB.kid), 15_000, 250);
      assert.equal(await signedBy(), keyA.kid, 'a pre-published key does not sign yet');

      // Step 2: B signs, A stays published: tokens signed by A still pass every check.
      await write([keyB, keyA]);
      await waitFor('B signing', async () => (await signedBy()) === keyB.kid, 15_000, 250);
      assert.equal((await tokenReview(`${server.url}/authenticate`, old.tokens.id_token!)).body.status.authenticated, true, 'webhook still accepts A tokens');
      const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      await jwtVerify(old.tokens.id_token!, jwks, { issuer: server.issuer, audience: 'kubernetes' });
      const refreshed = await oidc.refreshTokenGrant(config, old.tokens.refresh_token!);
      assert.equal(decodeProtectedHeader(refreshed.id_token!).kid, keyB.kid, 'refresh issues B-signed tokens');
      await verifyLikeApiserver(refreshed.id_token!, server.issuer);

      // Step 3: A removed once its tokens have expired: A tokens are refused from then on.
      await write([keyB]);
      await waitFor('A gone from the JWKS', async () => !(await kids()).includes(keyA.kid), 15_000, 250);
      assert.equal((await tokenReview(`${server.url}/authenticate`, old.tokens.id_token!)).body.status.authenticated, false);
      await server.waitForLog(/signing keys changed/);
    } finally {
      await server.stop();
    }
  });

  it('finishes in-flight requests on SIGTERM, refuses readiness while draining, and exits 0', async () => {
    const server = await startUnixid({ dir: tmp.dir, redisUrl: redis.url, env: env({ UNIXID_SHUTDOWN_GRACE_SECONDS: '10' }) });
    const url = new URL(server.url);
    // Slow requests: each client sends its headers now and its body only after SIGTERM.
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'not-a-token' } });
    const answers = Array.from({ length: 8 }, () => {
      const socket = connect(Number(url.port), url.hostname);
      const done = new Promise<string>((resolve, reject) => {
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      socket.write(`POST /authenticate HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      return { socket, done };
    });
    await new Promise((r) => setTimeout(r, 300));
    const exit = server.stop();
    await new Promise((r) => setTimeout(r, 300));
    for (const a of answers) a.socket.write(body);
    const texts = await Promise.all(answers.map((a) => a.done));
    for (const t of texts) {
      assert.match(t, /^HTTP\/1\.1 200/, t.slice(0, 120));
      assert.match(t, /"authenticated":false/);
    }
    assert.equal(await exit, 0, 'exit code 0');
  });

  it('exposes metrics that move with logins, refreshes and token reviews, and writes an audit trail without secrets', async () => {
    const auditFile = join(tmp.dir, 'audit.log');
    const server = await startUnixid({ dir: tmp.dir, redisUrl: redis.url, env: env({ UNIXID_AUDIT_FILE: auditFile }) });
    try {
      const metric = async (re: RegExp) => Number(re.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0);
      const loginsOk = /unixid_logins_total\{backend="pam",outcome="success"\} (\d+)/;
      const loginsBad = /unixid_logins_total\{backend="pam",outcome="failure"\} (\d+)/;
      const refreshOk = /unixid_refreshes_total\{outcome="ok"\} (\d+)/;
      const reviews = /unixid_token_reviews_total\{outcome="authenticated"\} (\d+)/;
      const before = [await metric(loginsOk), await metric(loginsBad), await metric(refreshOk), await metric(reviews)];

      const config = await kubeloginClient(server.issuer);
      const { tokens } = await kubeloginLogin(config, new Browser(), alice.name, alice.password);
      await assert.rejects(kubeloginLogin(config, new Browser(), bob.name, 'wrong-password-xyz'));
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      await tokenReview(`${server.url}/authenticate`, refreshed.id_token!);

      assert.equal(await metric(loginsOk), before[0]! + 1);
      assert.equal(await metric(loginsBad), before[1]! + 1);
      assert.equal(await metric(refreshOk), before[2]! + 1);
      assert.equal(await metric(reviews), before[3]! + 1);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      for (const kind of ['pam', 'nss', 'redis']) assert.match(text, new RegExp(`unixid_backend_duration_seconds_bucket\\{[^}]*kind="${kind}"`), kind);
      for (const name of ['unixid_http_request_duration_seconds', 'process_cpu_seconds_total']) assert.ok(text.includes(name), name);

      await waitFor('audit lines', async () => (await readFile(auditFile, 'utf8').catch(() => '')).includes('login.failure'), 5000);
      const audit = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const types = audit.map((e) => e.event);
      assert.ok(types.includes('login.success') && types.includes('login.failure'), types.join(','));
      const success = audit.find((e) => e.event === 'login.success')!;
      assert.equal(success.username, 'alice');
      assert.equal(success.clientId, 'kubernetes');
      assert.ok(success.ip);
      const failure = audit.find((e) => e.event === 'login.failure')!;
      assert.equal(failure.reason, 'wrong_password');

      const everything = (await readFile(auditFile, 'utf8')) + server.logs.join('\n');
      for (const secret of [alice.password, 'wrong-password-xyz', tokens.id_token!, tokens.refresh_token!, refreshed.id_token!, refreshed.refresh_token!, tokens.access_token]) {
        assert.ok(!everything.includes(secret), 'no password or token in any log');
      }
    } finally {
      await server.stop();
    }
  });
});
