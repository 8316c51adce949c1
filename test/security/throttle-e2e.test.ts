// Issue 6 part 1 proven through running servers: the login throttle with its default per-username
// limit (5 failures ban for 15 minutes), on every password path (login form, password grant,
// basic-auth /token), shared by two replicas on one Redis, lifted by `unixid unban`, the same answer
// for known and unknown users, audited and counted in /metrics. A throttled attempt never reaches PAM.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type * as oidc from 'openid-client';
import { Browser, formAction, type Hop } from '../harness/http-client.js';
import { KUBELOGIN_REDIRECT, kubeloginClient, startKubeloginAuthorize, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { assertAlive, requestLines } from './support.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const alice = USERS.find((u) => u.name === 'alice')!;
const bob = USERS.find((u) => u.name === 'bob')!;
const GENERIC = 'Invalid username or password.';

/** The login page with the per-response parts (nonce, interaction uid, request id, the echoed name) blanked out. */
function pageShape(body: string): string {
  return body
    .replace(/nonce="[^"]*"/g, '')
    .replace(/\/interaction\/[^/"]+/g, '/interaction/UID')
    .replace(/name="username" value="[^"]*"/g, 'name="username"')
    .replace(/value="[^"]*"/g, '')
    .replace(/request id[^<]*/gi, '');
}

describe('login throttle end to end: two replicas, one Redis, every password path', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let a: UnixidProcess;
  let b: UnixidProcess;
  let config: oidc.Configuration;
  let auditFile: string;
  let throttled = 0;
  const COOKIE_KEY = randomBytes(32).toString('base64url');

  async function start(name: string): Promise<UnixidProcess> {
    const accounts = await createUnixAccounts(join(tmp.dir, name));
    return startUnixid({
      dir: join(tmp.dir, name),
      redisUrl: redis.url,
      // Replicas share their cookie keys, as they must in production (and so their name fingerprints).
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service, UNIXID_COOKIE_KEYS: COOKIE_KEY },
      configYaml: [
        // The throttle section is left at its defaults: 5 failures per username, 20 per address.
        // Each scenario below comes from its own documentation address (X-Forwarded-For from the
        // loopback "proxy"), so one scenario's failures never trip another's address limit.
        'server:',
        '  trustProxy: loopback',
        'kubernetes:',
        '  passwordGrant: true',
        '  basicAuthToken:',
        '    enabled: true',
        'observability:',
        '  audit:',
        `    file: ${join(tmp.dir, name, 'audit.log')}`,
        KUBERNETES_CLIENT_YAML,
        '',
      ].join('\n'),
    });
  }

  before(async () => {
    tmp = await tempDir('throttle-e2e');
    redis = await startRedis();
    a = await start('a');
    b = await start('b');
    auditFile = join(tmp.dir, 'a', 'audit.log');
    config = await kubeloginClient(a.issuer);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  /** A kubelogin login page on `server`, and a function that posts credentials to it from `ip`. */
  async function loginForm(server: UnixidProcess, ip: string) {
    const browser = new Browser();
    const c = server === a ? config : await kubeloginClient(server.issuer);
    const { page } = await startKubeloginAuthorize(c, browser);
    const action = new URL(formAction(page.body)!, page.url).href;
    return (username: string, password: string): Promise<Hop> => browser.request(action, { form: { username, password }, headers: { 'x-forwarded-for': ip } });
  }

  const passwordGrant = (server: UnixidProcess, username: string, password: string, ip: string) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams({ grant_type: 'password', username, password, client_id: 'kubernetes', scope: 'openid' }),
    });
  const basicToken = (server: UnixidProcess, username: string, password: string, ip: string) =>
    fetch(`${server.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, 'x-forwarded-for': ip } });

  /** unixid_logins_total{outcome="throttled"} on a replica's /metrics. */
  async function throttledCount(server: UnixidProcess): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('unixid_logins_total{') && l.includes('outcome="throttled"') && l.includes('backend="pam"'));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  /** The server's log lines for one request id (waited for: the log is written asynchronously). */
  const linesOf = (server: UnixidProcess, reqId: string | null) => requestLines(server, reqId);

  it('form: five wrong passwords, then the sixth gets 429 with the same message and a Retry-After, and PAM never sees it', async () => {
    const before = await throttledCount(a);
    const post = await loginForm(a, '198.51.100.1');
    const wrongPages: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const res = await post(alice.name, `wrong-${i}`);
      assert.equal(res.status, 401, `attempt ${i}`);
      assert.match(res.body, /Invalid username or password\./);
      wrongPages.push(pageShape(res.body));
      // Attempts that reach PAM are logged with its verdict.
      const failed = (await linesOf(a, res.headers.get('x-request-id'))).find((e) => e.msg === 'login failed');
      assert.equal(failed?.reason, 'wrong_password', `attempt ${i} reached PAM`);
      assert.match(String(failed?.detail), /PAM_AUTH_ERR/);
    }
    const sixth = await post(alice.name, 'wrong-6');
    throttled++;
    assert.equal(sixth.status, 429);
    assert.ok(sixth.body.includes(GENERIC), 'the same words as a wrong password');
    assert.equal(pageShape(sixth.body), wrongPages[0], 'the same page as a wrong password');
    const retryAfter = Number(sixth.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`);

    const lines = await linesOf(a, sixth.headers.get('x-request-id'));
    assert.ok(lines.some((e) => e.msg === 'login throttled'), 'a "login throttled" line');
    assert.ok(!lines.some((e) => e.msg === 'login failed' || /PAM/.test(JSON.stringify(e))), 'no PAM verdict for the throttled attempt: PAM was not called');

    // Alice's right password is refused too while banned, again without PAM.
    const right = await post(alice.name, alice.password);
    throttled++;
    assert.equal(right.status, 429);
    assert.ok(right.body.includes(GENERIC));
    assert.ok(!right.location, 'no redirect back to the client');
    const rightLines = await linesOf(a, right.headers.get('x-request-id'));
    assert.ok(rightLines.some((e) => e.msg === 'login throttled'));
    assert.ok(!rightLines.some((e) => e.msg === 'login succeeded' || e.msg === 'PAM transaction done'));

    // A case variant of the name is the same counter, so it is banned as well.
    const variant = await post('ALICE', alice.password);
    throttled++;
    assert.equal(variant.status, 429);
    assert.equal(await throttledCount(a), before + 3, '/metrics counted each throttled attempt');
  });

  it('an unknown username gets exactly what a known one gets: the same pages, the same codes, in similar time', async () => {
    const knownPost = await loginForm(a, '198.51.100.2');
    const unknownPost = await loginForm(a, '198.51.100.3');
    const known: Array<{ status: number; page: string; ms: number }> = [];
    const unknown: Array<{ status: number; page: string; ms: number }> = [];
    for (let i = 1; i <= 6; i++) {
      for (const [post, user, out] of [
        [knownPost, bob.name, known],
        [unknownPost, 'no-such-user-here', unknown],
      ] as const) {
        const t0 = performance.now();
        const res = await post(user, `guess-${i}`);
        out.push({ status: res.status, page: pageShape(res.body), ms: performance.now() - t0 });
      }
    }
    throttled += 2;
    assert.deepEqual(known.map((r) => r.status), [401, 401, 401, 401, 401, 429]);
    assert.deepEqual(unknown.map((r) => r.status), known.map((r) => r.status), 'the same status codes');
    for (let i = 0; i < 6; i++) assert.equal(unknown[i]!.page, known[i]!.page, `attempt ${i + 1}: the same page`);
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const [k, u] = [median(known.map((r) => r.ms)), median(unknown.map((r) => r.ms))];
    // pam_matrix has no failure delay, so both are fast; a real pam_unix delay is what throttle.minResponseMs pads.
    assert.ok(Math.abs(k - u) < 250, `similar timing: known ${k.toFixed(1)} ms, unknown ${u.toFixed(1)} ms`);
    await run(process.execPath, ['--import', 'tsx', CLI, 'unban', bob.name, '--redis-url', redis.url], { timeout: 30_000 });
  });

  it('password grant and basic auth share the counters, across replicas: failures on A ban on B', async () => {
    const ip = '198.51.100.4';
    // Three failures through the password grant on A, two through basic auth on B: five for bob.
    for (let i = 0; i < 3; i++) {
      const res = await passwordGrant(a, bob.name, `wrong-${i}`, ip);
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    }
    for (let i = 0; i < 2; i++) assert.equal((await basicToken(b, bob.name, `wrong-b-${i}`, ip)).status, 401);

    // Now every door on either replica refuses bob, even with his right password.
    const grantOnB = await passwordGrant(b, bob.name, bob.password, ip);
    throttled++;
    assert.equal(grantOnB.status, 429);
    assert.ok(Number(grantOnB.headers.get('retry-after')) > 0, 'Retry-After on the password grant');
    const grantBody = (await grantOnB.json()) as { error: string; id_token?: string };
    assert.equal(grantBody.id_token, undefined);
    const basicOnA = await basicToken(a, bob.name, bob.password, ip);
    throttled++;
    assert.equal(basicOnA.status, 429);
    assert.ok(Number(basicOnA.headers.get('retry-after')) > 0, 'Retry-After on basic auth');
    const formOnB = await (await loginForm(b, ip))(bob.name, bob.password);
    throttled++;
    assert.equal(formOnB.status, 429);
    assert.ok(formOnB.body.includes(GENERIC));
    // Each of the three was logged as throttled under its own request id, and none reached PAM. A
    // throttled name is only fingerprinted (it need not be an account): bob's fingerprint is the
    // one on his wrong-password lines, where PAM showed the name is an account.
    await a.waitForLog(/"username":"bob".*"msg":"login failed"/);
    const bobFp = a.logEntries().find((e) => e.msg === 'login failed' && e.username === 'bob')?.userFp;
    assert.ok(typeof bobFp === 'string', 'a wrong password for bob logs his name and fingerprint');
    for (const [server, res, via] of [
      [b, grantOnB, 'password_grant'],
      [a, basicOnA, 'basic_token'],
      [b, formOnB, 'form'],
    ] as const) {
      const lines = await linesOf(server, res.headers.get('x-request-id'));
      assert.ok(lines.some((e) => e.msg === 'login throttled' && e.userFp === bobFp && e.username === undefined && e.via === via), `${via}: a "login throttled" line`);
      assert.ok(!lines.some((e) => e.msg === 'login failed' || e.msg === 'login succeeded' || /PAM_/.test(JSON.stringify(e))), `${via}: PAM was not called`);
    }
  });

  it('unixid unban lifts the ban for both replicas at once', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'unban', bob.name, '--redis-url', redis.url], { timeout: 30_000 });
    assert.match(stdout, /^unbanned user 'bob'/);
    const ip = '198.51.100.5';
    const onB = await basicToken(b, bob.name, bob.password, ip);
    assert.equal(onB.status, 200, 'basic auth on B works again');
    const onA = await passwordGrant(a, bob.name, bob.password, ip);
    assert.equal(onA.status, 200, 'the password grant on A works again');
    assert.ok(((await onA.json()) as { id_token?: string }).id_token);

    const { stdout: again } = await run(process.execPath, ['--import', 'tsx', CLI, 'unban', alice.name, '--redis-url', redis.url], { timeout: 30_000 });
    assert.match(again, /^unbanned user 'alice'/);
    const post = await loginForm(a, ip);
    const done = await post(alice.name, alice.password);
    assert.ok(done.location?.startsWith(a.issuer) || done.location?.startsWith(KUBELOGIN_REDIRECT), `alice logs in again: ${done.status}`);
  });

  it('the per-address limit: twenty failures from one address ban it for every username; unban by address lifts it', async () => {
    const ip = '203.0.113.7';
    for (let i = 0; i < 20; i++) assert.equal((await basicToken(i % 2 ? a : b, `spray-user-${i}`, 'Winter2026!', ip)).status, 401, `spray ${i}`);
    const banned = await basicToken(a, alice.name, alice.password, ip);
    throttled++;
    assert.equal(banned.status, 429, 'the address is banned, even for a right password');
    assert.equal((await basicToken(a, alice.name, alice.password, '203.0.113.8')).status, 200, 'another address is not');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'unban', ip, '--redis-url', redis.url], { timeout: 30_000 });
    assert.match(stdout, /^unbanned address 203\.0\.113\.7/);
    assert.equal((await basicToken(b, alice.name, alice.password, ip)).status, 200, 'lifted on B too');
  });

  it('password grant: a client cannot pick its own address by prepending to X-Forwarded-For; the one the trusted proxy saw is banned', async () => {
    // The loopback proxy appends the address it saw; whatever the client sent comes before it.
    const seen = '203.0.113.9';
    for (let i = 0; i < 20; i++) {
      const res = await passwordGrant(i % 2 ? a : b, `grant-spray-${i}`, 'Winter2026!', `198.18.${i}.1, ${seen}`);
      assert.equal(res.status, 400, `spray ${i}`);
    }
    const banned = await passwordGrant(a, alice.name, alice.password, `198.18.99.1, ${seen}`);
    throttled++;
    assert.equal(banned.status, 429, 'the address the proxy saw is banned, whatever the client put before it');
    assert.equal((await passwordGrant(b, alice.name, alice.password, `${seen}, 203.0.113.10`)).status, 200, 'a client the proxy saw elsewhere is not');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'unban', seen, '--redis-url', redis.url], { timeout: 30_000 });
    assert.match(stdout, /^unbanned address 203\.0\.113\.9/);
  });

  it('the audit file has login.throttled events (bans and refused attempts), and the replicas are healthy', async () => {
    await assertAlive(a);
    await assertAlive(b);
    // Stopping flushes the audit stream (it is written asynchronously).
    await a.stop();
    const events = (await readFile(auditFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const throttledEvents = events.filter((e) => e.event === 'login.throttled');
    // Names appear as fingerprints here; the wrong-password failures, where the name is shown, link them.
    const fpOf = (name: string) => events.find((e) => e.event === 'login.failure' && e.username === name)?.userFp;
    const [aliceFp, bobFp] = [fpOf('alice'), fpOf('bob')];
    assert.ok(aliceFp && bobFp && aliceFp !== bobFp, 'failures carry the name and its fingerprint');
    assert.ok(throttledEvents.some((e) => e.scope === 'username' && e.userFp === aliceFp && e.failures === 5), 'the ban of alice, with its count');
    assert.ok(throttledEvents.some((e) => e.via === 'form' && e.userFp === aliceFp), 'a refused form attempt');
    assert.ok(throttledEvents.some((e) => e.via === 'basic_token' && e.userFp === bobFp), 'a refused basic-auth attempt');
    assert.ok(!throttledEvents.some((e) => 'username' in e), 'no throttled event names a user in clear');
    assert.ok(throttledEvents.some((e) => e.scope === 'ip'), 'the address ban');
    assert.ok(events.some((e) => e.event === 'login.failure' && e.reason === 'wrong_password'));
    console.log(`throttle-e2e: ${throttled} attempts throttled across 2 replicas (form, password grant, basic auth; username and address limits), 0 of them reached PAM`);
  });
});
