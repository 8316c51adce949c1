import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pamVerdict } from '../../src/backends/pam/pam-outcome.js';
import { passwordProblem, usernameProblem } from '../../src/backends/username.js';
import { createGroupFilter } from '../../src/directory/group-filter.js';
import { createNativePool, PoolError } from '../../src/native/worker-pool.js';

const outcome = (codeName: string) => ({ step: 'authenticate', code: 0, codeName, text: '', messages: [], passwordPrompts: 1 });

describe('PAM outcomes', () => {
  it('tells wrong credentials, denied accounts, password changes and an unavailable PAM apart', () => {
    assert.deepEqual(pamVerdict(outcome('PAM_SUCCESS')), { kind: 'ok' });
    assert.deepEqual(pamVerdict(outcome('PAM_AUTH_ERR')), { kind: 'refused', reason: 'wrong_password' });
    assert.deepEqual(pamVerdict(outcome('PAM_USER_UNKNOWN')), { kind: 'refused', reason: 'unknown_user' });
    assert.deepEqual(pamVerdict(outcome('PAM_ACCT_EXPIRED')), { kind: 'refused', reason: 'account_expired' });
    assert.deepEqual(pamVerdict(outcome('PAM_NEW_AUTHTOK_REQD')), { kind: 'refused', reason: 'password_change_required' });
    assert.deepEqual(pamVerdict(outcome('PAM_PERM_DENIED')), { kind: 'refused', reason: 'access_denied' });
    // A second secret prompt (OTP) cannot be answered from a form: refused, never sent the password.
    assert.deepEqual(pamVerdict(outcome('PAM_CONV_ERR')), { kind: 'refused', reason: 'access_denied' });
    for (const c of ['PAM_AUTHINFO_UNAVAIL', 'PAM_SYSTEM_ERR', 'PAM_SERVICE_ERR', 'PAM_ABORT', 'PAM_BUF_ERR', 'PAM_UNKNOWN_CODE']) {
      assert.deepEqual(pamVerdict(outcome(c)), { kind: 'unavailable' }, c);
    }
  });
});

describe('username and password limits', () => {
  it('refuses empty, over-long and control-character usernames, accepts ordinary ones', () => {
    assert.equal(usernameProblem('alice'), undefined);
    assert.equal(usernameProblem('jean-luc.picard@example.org'), undefined);
    assert.equal(usernameProblem('ünïcødé'), undefined);
    assert.equal(usernameProblem('a'.repeat(256)), undefined);
    assert.ok(usernameProblem(''));
    assert.ok(usernameProblem('a'.repeat(257)));
    assert.ok(usernameProblem('é'.repeat(129)), '258 bytes in UTF-8');
    for (const c of ['\u0000', '\n', '\t', '\u007f', '\u0085', '\u2028']) assert.ok(usernameProblem(`al${c}ice`), JSON.stringify(c));
    assert.ok(usernameProblem(' alice'));
  });
  it('refuses empty, over-4-KiB and NUL-containing passwords', () => {
    assert.equal(passwordProblem(Buffer.from('secret')), undefined);
    assert.equal(passwordProblem(Buffer.alloc(4096, 0x61)), undefined);
    assert.ok(passwordProblem(Buffer.alloc(0)));
    assert.ok(passwordProblem(Buffer.alloc(4097, 0x61)));
    assert.ok(passwordProblem(Buffer.from('se\u0000cret')));
  });
});

describe('group filter', () => {
  it('includes, excludes, prefixes, de-duplicates and never lets a system: group through', () => {
    const f = createGroupFilter({ include: ['dev*', 'k8s-?dmins', 'system:masters'], exclude: ['dev-old'], prefix: 'unix:' });
    assert.deepEqual(f(['developers', 'dev-old', 'k8s-admins', 'wheel', 'developers', 'system:masters']), ['unix:developers', 'unix:k8s-admins']);
    assert.deepEqual(createGroupFilter({ include: [], exclude: [], prefix: 'system:' })(['a']), [], 'a prefix cannot make system: groups');
    assert.deepEqual(createGroupFilter({ include: ['a.b'], exclude: [], prefix: '' })(['a.b', 'axb']), ['a.b'], 'only * and ? are wild');
  });
});

describe('native thread pool', () => {
  const pool = createNativePool({ name: 'nss', threads: 1, maxQueue: 2, timeoutMs: 5000 });
  after(() => pool.close());

  it('answers NSS lookups from a worker thread', async () => {
    const root = await pool.run<{ name: string; uid: number } | null>({ op: 'getUser', name: 'root' });
    assert.equal(root?.uid, 0);
    assert.equal(await pool.run({ op: 'getUser', name: 'no-such-user-here' }), null);
  });

  it('refuses calls beyond the queue at once instead of piling them up', async () => {
    const calls = Array.from({ length: 10 }, () => pool.run({ op: 'getGroups', name: 'root', gid: 0 }));
    const results = await Promise.allSettled(calls);
    const busy = results.filter((r) => r.status === 'rejected' && (r.reason as PoolError).kind === 'busy').length;
    assert.ok(busy >= 1, `some calls refused as busy (${busy})`);
    assert.ok(results.filter((r) => r.status === 'fulfilled').length >= 3, 'one running and two queued succeed');
  });

  it('rejects bad arguments as a failed call, not a crash', async () => {
    await assert.rejects(pool.run({ op: 'getUser', name: 'a'.repeat(300) }), (err: unknown) => (err as PoolError).kind === 'failed');
    await assert.rejects(pool.run({ op: 'getUser', name: 'x\u0000y' }), PoolError);
  });

  it('times a call out for the caller', async () => {
    const tiny = createNativePool({ name: 'pam', threads: 1, maxQueue: 100, timeoutMs: 1 });
    try {
      const many = await Promise.allSettled(Array.from({ length: 50 }, () => tiny.run({ op: 'getGroups', name: 'root', gid: 0 })));
      assert.ok(many.some((r) => r.status === 'rejected' && (r.reason as PoolError).kind === 'timeout'));
    } finally {
      await tiny.close();
    }
  });
});

describe('native thread pool lifecycle', () => {
  it('starts threads on demand and stops them when idle', async () => {
    const pool = createNativePool({ name: 'nss', threads: 2, maxQueue: 10, timeoutMs: 5000, idleMs: 50 });
    try {
      assert.equal(pool.stats().threads, 0, 'no thread before the first call');
      await Promise.all([pool.run({ op: 'getUser', name: 'root' }), pool.run({ op: 'getUser', name: 'root' })]);
      assert.equal(pool.stats().threads, 2);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(pool.stats().threads, 0, 'idle threads stopped');
      // Idle threads are gone; the next call starts one again and is answered.
      assert.equal((await pool.run<{ uid: number } | null>({ op: 'getUser', name: 'root' }))?.uid, 0);
    } finally {
      await pool.close();
    }
  });
});
