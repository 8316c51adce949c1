// throttle.maxInFlightPerAddress through a running server, with pam_unix-style failure delays
// (pam_faildelay): one address that sends many guesses at once gets only its share of the PAM
// queue, the rest are refused at once without reaching PAM, and other addresses are not slowed.
// And a login whose client gives up while it waits for PAM leaves the queue unchecked.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createInFlightLimit } from '../../src/web/in-flight-limit.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const alice = USERS[0]!;
const SECURITY = '/usr/lib/x86_64-linux-gnu/security';
const MATRIX = '/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so';

describe('in-flight password checks per address', () => {
  it('counts per address (IPv6 per /64), frees places, and exempts allow-listed addresses', () => {
    const limit = createInFlightLimit({ max: 2, allowList: ['10.0.0.0/8'] });
    const taken = (ip: string) => limit.acquire(ip) !== undefined;
    const first = limit.acquire('192.0.2.1');
    assert.ok(first);
    assert.equal(taken('192.0.2.1'), true);
    assert.equal(taken('192.0.2.1'), false, 'a third at once is refused');
    assert.equal(taken('192.0.2.2'), true, 'another address is not');
    first();
    first();
    assert.equal(taken('192.0.2.1'), true, 'a place given back can be taken again');
    assert.equal(taken('192.0.2.1'), false, '…once: giving it back twice frees one place');
    assert.equal(taken('2001:db8::1'), true);
    assert.equal(taken('2001:db8::2'), true);
    assert.equal(taken('2001:db8::3'), false, 'one /64 is one address');
    for (let i = 0; i < 10; i++) assert.equal(taken('10.1.2.3'), true, 'allow-listed');
    const off = createInFlightLimit({ max: 0 });
    for (let i = 0; i < 10; i++) assert.ok(off.acquire('192.0.2.9'), '0 turns it off');
  });

  /** A server whose PAM fails after about a second, as pam_unix's delay does; `extraYaml` adds config lines. */
  async function slowPamServer(name: string, extraYaml: string[]) {
    const tmp = await tempDir(name);
    const accounts = await createUnixAccounts(tmp.dir, USERS, 'unixid-slow');
    await writeFile(
      join(tmp.dir, 'pam.d', accounts.service),
      `auth optional ${SECURITY}/pam_faildelay.so delay=1000000\nauth required ${MATRIX} passdb=${join(tmp.dir, 'passdb')}\naccount required ${MATRIX} passdb=${join(tmp.dir, 'passdb')}\n`,
    );
    const server = await startUnixid({
      dir: tmp.dir,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
      configYaml: ['server: {trustProxy: loopback}', 'kubernetes: {basicAuthToken: {enabled: true}}', ...extraYaml, ''].join('\n'),
    });
    const basic = (user: string, password: string, ip: string, signal?: AbortSignal) =>
      fetch(`${server.url}/token`, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'x-forwarded-for': ip },
        ...(signal ? { signal } : {}),
      });
    return { tmp, server, basic };
  }

  describe('through the server', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let server: UnixidProcess;
    let basic: (user: string, password: string, ip: string) => Promise<Response>;

    before(async () => {
      // High failure limits: only the in-flight cap is under test.
      ({ tmp, server, basic } = await slowPamServer('in-flight', ['throttle: {maxInFlightPerAddress: 2, username: {maxFailures: 1000}, ip: {maxFailures: 1000}}']));
    });

    after(async () => {
      await server?.stop();
      await tmp?.remove();
    });

    it('lets one address have two guesses in PAM at once, refuses the rest at once, and leaves others unaffected', async () => {
      const started = performance.now();
      const guesses = Array.from({ length: 6 }, (_, i) =>
        basic(alice.name, `wrong-${i}`, '198.51.100.20').then((r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), ms: performance.now() - started })),
      );
      // While the guesses sit in PAM's delay, a user from another address logs in at once.
      await new Promise((r) => setTimeout(r, 200));
      const other = await basic(alice.name, alice.password, '198.51.100.21');
      const otherMs = performance.now() - started;
      const answers = await Promise.all(guesses);
      const refused = answers.filter((a) => a.status === 429);
      const checked = answers.filter((a) => a.status === 401);
      assert.equal(checked.length, 2, JSON.stringify(answers));
      assert.equal(refused.length, 4, JSON.stringify(answers));
      // libpam randomises pam_faildelay's 1 s by up to a quarter or so either way: compare, don't clock.
      const firstChecked = Math.min(...checked.map((a) => a.ms));
      assert.ok(firstChecked >= 500, `the checked guesses went through PAM's delay: ${Math.round(firstChecked)} ms`);
      for (const a of refused) {
        assert.equal(a.retryAfter, '1');
        assert.ok(a.ms < firstChecked, `refused before any guess came back from PAM: ${Math.round(a.ms)} ms`);
      }
      assert.equal(other.status, 200, 'another address is not held up');
      assert.ok(otherMs < firstChecked, `…nor slowed: ${Math.round(otherMs)} ms`);
      const throttledLines = server.logEntries().filter((e) => e.msg === 'login throttled' && e.limit === 'in_flight');
      assert.equal(throttledLines.length, 4);
      // Once its guesses are back, the address may try again.
      assert.equal((await basic(alice.name, alice.password, '198.51.100.20')).status, 200);
    });
  });
  describe('a client that gives up', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let server: UnixidProcess;
    let basic: (user: string, password: string, ip: string, signal?: AbortSignal) => Promise<Response>;

    before(async () => {
      // One PAM thread, so a second login has to wait in the queue.
      ({ tmp, server, basic } = await slowPamServer('abandoned', ['pam: {maxConcurrent: 1}']));
    });

    after(async () => {
      await server?.stop();
      await tmp?.remove();
    });

    it('leaves the PAM queue unchecked and uncounted when its client goes away', async () => {
      const busy = basic(alice.name, 'wrong-busy', '198.51.100.30');
      await new Promise((r) => setTimeout(r, 150));
      const gone = new AbortController();
      const abandoned = basic(alice.name, 'wrong-abandoned', '198.51.100.31', gone.signal).catch((err: Error) => err);
      await new Promise((r) => setTimeout(r, 150));
      gone.abort();
      assert.equal(((await abandoned) as Error).name, 'AbortError');
      assert.equal((await busy).status, 401, 'the login on the PAM thread is answered as usual');
      await server.waitForLog(/"ip":"198\.51\.100\.31".*"msg":"login abandoned/);
      const lines = server.logEntries().filter((e) => e.ip === '198.51.100.31');
      assert.ok(!lines.some((e) => e.msg === 'login failed' || e.msg === 'login succeeded'), 'the abandoned attempt never reached PAM, nor the failure count');
      assert.equal((await basic(alice.name, alice.password, '198.51.100.32')).status, 200, 'the queue carries on');
    });
  });
});
