import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pamVerdict } from '../../src/backends/pam/pam-outcome.js';
import { passwordProblem, usernameProblem } from '../../src/backends/username.js';
import { createGroupFilter } from '../../src/directory/group-filter.js';
import type { NativeBinding, NativeCallback } from '../../src/native/binding.js';
import { createNativePool, PoolError } from '../../src/native/native-pool.js';

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

  it('answers NSS lookups from a native thread', async () => {
    const root = await pool.run<{ name: string; uid: number } | null>({ op: 'getUser', name: 'root' });
    assert.equal(root?.uid, 0);
    assert.equal(await pool.run({ op: 'getUser', name: 'no-such-user-here' }), null);
    assert.ok((await pool.run<string[]>({ op: 'getGroups', name: 'root', gid: 0 })).includes('root'));
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
    assert.equal(pool.stats().running, 0, 'a refused call holds no thread');
  });

  it('times a call out for the caller', async () => {
    // The clock runs from the call's arrival, queue included: a call is tens of microseconds now, so
    // enough of them that the last cannot all be answered within the millisecond.
    const tiny = createNativePool({ name: 'pam', threads: 1, maxQueue: 2000, timeoutMs: 1 });
    try {
      const many = await Promise.allSettled(Array.from({ length: 2000 }, () => tiny.run({ op: 'getGroups', name: 'root', gid: 0 })));
      assert.ok(many.some((r) => r.status === 'rejected' && (r.reason as PoolError).kind === 'timeout'));
    } finally {
      await tiny.close();
    }
  });
});

// Idle native threads end after this long here (30 s by default), so the test can watch them go.
process.env.UNIXID_NATIVE_IDLE_EXIT_MS = '200';

describe('native thread pool lifecycle', () => {
  const osThreads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

  it('runs calls on the addon\'s own threads, reuses idle ones, and lets them end once idle', async () => {
    const pool = createNativePool({ name: 'nss', threads: 2, maxQueue: 10, timeoutMs: 5000 });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const settle = async (predicate: () => boolean) => {
      for (let i = 0; i < 100 && !predicate(); i++) await sleep(20);
    };
    try {
      // The earlier tests' pools leave threads of the addon that end 200 ms after their last call:
      // they must be gone before counting, or they end inside this test's window too.
      for (let before = -1, now = osThreads(); now !== before; now = osThreads()) {
        before = now;
        await sleep(400);
      }
      await pool.run({ op: 'getUser', name: 'root' }); // the addon is loaded before counting
      const loaded = osThreads();
      await settle(() => osThreads() < loaded);
      const idle = osThreads();
      assert.equal(idle, loaded - 1, 'the first call\'s thread ended once idle');

      const calls = [pool.run({ op: 'getUser', name: 'root' }), pool.run({ op: 'getUser', name: 'root' }), pool.run({ op: 'getUser', name: 'root' })];
      assert.deepEqual(pool.stats(), { running: 2, queued: 1, threads: 2, maxThreads: 2 });
      await Promise.all(calls);
      assert.equal(pool.stats().threads, 0);
      const started = osThreads() - idle;
      assert.ok(started >= 1 && started <= 3, `a thread per call running at once, at most (${started})`);

      // Idle threads take the next calls: none is started for them.
      await Promise.all([pool.run({ op: 'getUser', name: 'root' }), pool.run({ op: 'getUser', name: 'root' })]);
      assert.equal(osThreads() - idle, started, 'the idle threads were reused');

      await settle(() => osThreads() === idle);
      assert.equal(osThreads(), idle, 'no native thread left once idle');
    } finally {
      await pool.close();
    }
  });

  it('refuses calls after close', async () => {
    const pool = createNativePool({ name: 'nss', threads: 1, maxQueue: 1, timeoutMs: 5000 });
    await pool.close();
    await assert.rejects(pool.run({ op: 'getUser', name: 'root' }), (err: unknown) => (err as PoolError).kind === 'closed');
  });
});

/** A stand-in addon whose calls return only when the test says so; it counts how many run at once. */
function heldBinding() {
  const held: { op: string; copy?: Uint8Array; finish(err: string | null, value?: unknown): void }[] = [];
  let now = 0;
  let peak = 0;
  const hold = (op: string, done: NativeCallback<never>, copy?: Uint8Array) => {
    peak = Math.max(peak, ++now);
    let returned = false;
    held.push({
      op,
      copy,
      finish(err, value) {
        assert.ok(!returned, 'each call returns once');
        returned = true;
        now--;
        done(err, value as never);
      },
    });
  };
  const binding: NativeBinding = {
    pamLoginAsync(_service, _user, password, _rhost, done) {
      if (password.includes(0)) throw new TypeError('password is too long or contains NUL');
      hold('pamLogin', done, Uint8Array.from(password));
    },
    pamAccountAsync: (_service, _user, _rhost, done) => hold('pamAccount', done),
    getUserAsync: (_name, done) => hold('getUser', done),
    getGroupsAsync: (_name, _gid, done) => hold('getGroups', done),
  };
  return { binding, held, peak: () => peak };
}

const kindOf = (err: unknown) => (err instanceof PoolError ? err.kind : String(err));
const tick = () => new Promise((r) => setImmediate(r));

describe('native thread pool semantics', () => {
  it('runs at most `threads` calls at once and starts a waiting one as each returns', async () => {
    const { binding, held, peak } = heldBinding();
    const pool = createNativePool({ name: 'nss', threads: 2, maxQueue: 10, timeoutMs: 5000, binding });
    const calls = Array.from({ length: 5 }, () => pool.run<string>({ op: 'getUser', name: 'alice' }));
    assert.equal(held.length, 2);
    assert.deepEqual(pool.stats(), { running: 2, queued: 3, threads: 2, maxThreads: 2 });
    for (let i = 0; i < 5; i++) {
      held[i]!.finish(null, `answer ${i}`);
      assert.equal(held.length, Math.min(5, i + 3), 'the next waiting call starts as soon as one returns');
    }
    assert.deepEqual(await Promise.all(calls), ['answer 0', 'answer 1', 'answer 2', 'answer 3', 'answer 4']);
    assert.equal(peak(), 2);
    assert.deepEqual(pool.stats(), { running: 0, queued: 0, threads: 0, maxThreads: 2 });
  });

  it('refuses a call as busy when every thread runs and the queue is full', async () => {
    const { binding, held } = heldBinding();
    const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 1, timeoutMs: 5000, binding });
    const running = pool.run({ op: 'getUser', name: 'a' });
    const waiting = pool.run({ op: 'getUser', name: 'b' });
    await assert.rejects(pool.run({ op: 'getUser', name: 'c' }), (err: unknown) => kindOf(err) === 'busy');
    held[0]!.finish(null, 1);
    held[1]!.finish(null, 2);
    assert.deepEqual(await Promise.all([running, waiting]), [1, 2]);
  });

  it('drops a waiting call whose caller gave up, and lets a started one run to its end', async () => {
    const { binding, held } = heldBinding();
    const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 5, timeoutMs: 5000, binding });
    const startedGone = new AbortController();
    const queuedGone = new AbortController();
    const running = pool.run({ op: 'getUser', name: 'a' }, startedGone.signal);
    const waiting = pool.run({ op: 'getUser', name: 'b' }, queuedGone.signal);
    const next = pool.run({ op: 'getUser', name: 'c' });
    assert.deepEqual(pool.stats(), { running: 1, queued: 2, threads: 1, maxThreads: 1 });
    queuedGone.abort();
    startedGone.abort();
    await assert.rejects(waiting, (err: unknown) => kindOf(err) === 'aborted');
    assert.equal(pool.stats().queued, 1, 'the abandoned call left the queue');
    held[0]!.finish(null, 'a done');
    assert.equal(await running, 'a done', 'a call already on its thread answers as usual');
    assert.equal(held.length, 2, 'the abandoned call never reached the addon');
    held[1]!.finish(null, 'c done');
    assert.equal(await next, 'c done');
    const gone = new AbortController();
    gone.abort();
    await assert.rejects(pool.run({ op: 'getUser', name: 'd' }, gone.signal), (err: unknown) => kindOf(err) === 'aborted');
    assert.equal(held.length, 2);
  });

  it('answers a timed-out caller at once, keeps its thread counted until the call returns, and drops the late result', async () => {
    const { binding, held } = heldBinding();
    const pool = createNativePool({ name: 'nss', threads: 1, maxQueue: 5, timeoutMs: 30, binding });
    const hung = pool.run({ op: 'getUser', name: 'hung' });
    const behind = pool.run({ op: 'getUser', name: 'behind' });
    await Promise.all([
      assert.rejects(hung, (err: unknown) => kindOf(err) === 'timeout'),
      assert.rejects(behind, (err: unknown) => kindOf(err) === 'timeout', 'a call that waited too long times out too'),
    ]);
    assert.deepEqual(pool.stats(), { running: 1, queued: 0, threads: 1, maxThreads: 1 }, 'the hung thread still holds its place');
    assert.equal(held.length, 1, 'the timed-out waiting call never started');

    const next = pool.run<string>({ op: 'getUser', name: 'next' });
    assert.equal(held.length, 1, 'no second thread while the hung one runs');
    held[0]!.finish(null, 'late answer'); // dropped: its caller was already told
    await tick();
    assert.equal(held.length, 2);
    held[1]!.finish(null, 'next answer');
    assert.equal(await next, 'next answer');
  });

  it('fails a call the addon refuses or reports failing, without holding a thread', async () => {
    const { binding, held } = heldBinding();
    const pool = createNativePool({ name: 'nss', threads: 1, maxQueue: 5, timeoutMs: 5000, binding });
    const broken = pool.run({ op: 'getGroups', name: 'alice', gid: 1 });
    held[0]!.finish('getgrgid_r: Input/output error');
    await assert.rejects(broken, (err: unknown) => kindOf(err) === 'failed' && /getgrgid_r: Input\/output error/.test((err as Error).message));
    const refused = pool.run({ op: 'pamLogin', service: 's', username: 'u', password: Uint8Array.of(97, 0), rhost: '' });
    await assert.rejects(refused, (err: unknown) => kindOf(err) === 'failed' && /contains NUL/.test((err as Error).message));
    assert.equal(pool.stats().running, 0);
  });

  it('on close fails the waiting calls and refuses new ones; a running call still answers', async () => {
    const { binding, held } = heldBinding();
    const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 5, timeoutMs: 5000, binding });
    const running = pool.run({ op: 'pamAccount', service: 's', username: 'u', rhost: '' });
    const waiting = pool.run({ op: 'pamAccount', service: 's', username: 'v', rhost: '' });
    await pool.close();
    await assert.rejects(waiting, (err: unknown) => kindOf(err) === 'closed');
    await assert.rejects(pool.run({ op: 'getUser', name: 'w' }), (err: unknown) => kindOf(err) === 'closed');
    held[0]!.finish(null, 'done');
    assert.equal(await running, 'done');
    assert.equal(held.length, 1, 'nothing started after close');
  });

  it('zero-fills the password once the addon has its copy, and when the call never starts', async () => {
    const { binding, held } = heldBinding();
    const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 1, timeoutMs: 30, binding });
    const secret = () => new TextEncoder().encode('hunter2-Secret');
    const zero = (b: Uint8Array) => b.every((x) => x === 0);
    const login = (password: Uint8Array) => pool.run({ op: 'pamLogin', service: 's', username: 'u', password, rhost: '' });

    const started = secret();
    const running = login(started);
    assert.ok(zero(started), 'wiped as soon as the call started');
    assert.equal(new TextDecoder().decode(held[0]!.copy), 'hunter2-Secret', 'the addon got the bytes first');

    const queued = secret();
    const waiting = login(queued);
    assert.ok(!zero(queued), 'a waiting call still needs its password');
    const refused = secret();
    await assert.rejects(login(refused), (err: unknown) => kindOf(err) === 'busy');
    assert.ok(zero(refused), 'wiped when refused as busy');
    await Promise.all([
      assert.rejects(waiting, (err: unknown) => kindOf(err) === 'timeout'),
      assert.rejects(running, (err: unknown) => kindOf(err) === 'timeout'),
    ]);
    assert.ok(zero(queued), 'wiped when it timed out waiting');

    await pool.close();
    const late = secret();
    await assert.rejects(login(late), (err: unknown) => kindOf(err) === 'closed');
    assert.ok(zero(late), 'wiped when the pool is closed');
    held[0]!.finish(null, 'late');
  });
});
