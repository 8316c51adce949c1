// The native thread pool against real libpam and NSS (pam_wrapper, nss_wrapper, pam_faildelay):
// blocking calls run on the addon's own threads, bounded, timed out for the caller, and never hold
// the event loop or the process. Each scenario runs in a child process: the wrappers must be
// preloaded when it starts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL('./native-threads-probe.ts', import.meta.url));
const SECURITY = '/usr/lib/x86_64-linux-gnu/security';
const alice = USERS[0]!;

describe('native threads under real PAM and NSS', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let accounts: UnixAccounts;

  before(async () => {
    tmp = await tempDir('native-threads');
    accounts = await createUnixAccounts(tmp.dir, USERS, 'unixid-slow');
    // pam_faildelay: a failed authentication returns after about a second, as pam_unix's delay does.
    const matrix = `/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so passdb=${join(tmp.dir, 'passdb')}`;
    await writeFile(
      join(tmp.dir, 'pam.d', accounts.service),
      `auth optional ${SECURITY}/pam_faildelay.so delay=1000000\nauth required ${matrix}\naccount required ${matrix}\n`,
    );
  });
  after(async () => {
    await tmp?.remove();
  });

  async function probe(scenario: string): Promise<Record<string, any>> {
    const env = { PATH: process.env.PATH!, ...accounts.env, PROBE_SERVICE: accounts.service, PROBE_USER: alice.name, PROBE_PASSWORD: alice.password };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', PROBE, scenario], { env, timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  }

  it('keeps the event loop turning, bounds the threads, times out for the caller and wipes the password', async () => {
    const seen = await probe('calls');

    assert.equal(seen.loop.codeName, 'PAM_AUTH_ERR');
    assert.ok(seen.loop.ms >= 400, `the failure delay applied (${seen.loop.ms} ms)`);
    assert.ok(seen.loop.ticks >= seen.loop.ms / 20 / 2, `a 20 ms timer kept ticking during the delay (${seen.loop.ticks} ticks in ${seen.loop.ms} ms)`);

    assert.deepEqual(seen.bound.codeNames, ['PAM_AUTH_ERR', 'PAM_AUTH_ERR', 'PAM_AUTH_ERR', 'PAM_AUTH_ERR']);
    assert.deepEqual(seen.bound.atStart, { running: 2, queued: 2, threads: 2, maxThreads: 2 });
    assert.equal(seen.bound.maxRunning, 2);
    assert.ok(seen.bound.extraThreads >= 1 && seen.bound.extraThreads <= 2, `at most two native threads (${seen.bound.extraThreads})`);
    assert.ok(seen.bound.ms >= 2 * 400, `two waves of failure delays (${seen.bound.ms} ms)`);

    assert.equal(seen.timeout.kind, 'timeout');
    assert.ok(seen.timeout.timedOutMs < 600, `the caller was answered at the timeout (${seen.timeout.timedOutMs} ms)`);
    assert.equal(seen.timeout.heldAfterTimeout, 1, 'the thread still held its place');
    assert.ok(seen.timeout.freedMs > seen.timeout.timedOutMs, 'and was freed when PAM returned');
    assert.equal(seen.timeout.next, 'PAM_SUCCESS', 'the late result was dropped and the next call served');

    assert.deepEqual(seen.password, { zeroedAtOnce: true, codeName: 'PAM_SUCCESS' });

    assert.equal(seen.nss.user.name, alice.name);
    assert.equal(seen.nss.user.uid, alice.uid);
    assert.deepEqual([...seen.nss.groups].sort(), [alice.name, ...alice.groups!].sort());
  });

  it('lets the process exit while an abandoned call is still blocked in PAM', async () => {
    assert.deepEqual(await probe('exit'), { kind: 'timeout', blockedAtExit: 1 });
  });

  it('survives a Worker that loaded the addon ending while its calls are blocked', async () => {
    const seen = await probe('worker');
    assert.equal(seen.alive, true);
  });
});
