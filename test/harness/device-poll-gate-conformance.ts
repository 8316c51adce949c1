import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { POLL_SLACK_MS, SLOW_DOWN_STEP_MS, type DevicePollGate, type DevicePollGateOptions, type PollVerdict } from '../../src/store/device-poll-gate.js';

/** One poll gate implementation under test, as the shared suite sees it. */
export interface PollGateTarget {
  /** A gate with these options on the target's clock, with a store of its own (on Redis: its own key prefix). */
  create(options: Omit<DevicePollGateOptions, 'now'>): DevicePollGate;
  /** How many poll records the store of `gate` (one create() returned) holds now. */
  records(gate: DevicePollGate): Promise<number>;
  /** Let `ms` pass on the clock the gates were given. */
  advance(ms: number): void;
  close?(): Promise<void>;
}

const BASE_S = 5;
const BASE = BASE_S * 1000;
const STEP = SLOW_DOWN_STEP_MS;
const OPTIONS = { intervalSeconds: BASE_S, codeLifetimeSeconds: 600 };

// Every test uses fresh device codes, so tests sharing one gate cannot see each other's records.
const code = (): string => randomBytes(32).toString('base64url');

/**
 * A poll of a real device code that is still pending, as the middleware handles it: check() before
 * the grant; when that lets it through, the grant answers authorization_pending and record() follows.
 */
async function pendingPoll(gate: DevicePollGate, deviceCode: string): Promise<PollVerdict> {
  const verdict = await gate.check(deviceCode);
  if (!verdict.slowDown) await gate.record(deviceCode);
  return verdict;
}

/**
 * The DevicePollGate contract every implementation keeps: one suite, run against the memory gate
 * and the Redis one. `makeTarget` runs once before the tests.
 */
export function pollGateConformance(name: string, makeTarget: () => Promise<PollGateTarget>): void {
  describe(`${name}: device poll gate conformance`, () => {
    let target: PollGateTarget;
    let gate: DevicePollGate;

    before(async () => {
      target = await makeTarget();
      gate = target.create(OPTIONS);
    });
    after(async () => {
      await target?.close?.();
    });

    it('a code without a record goes through and nothing is written: made-up codes, each checked twice at once, leave no record', async () => {
      const own = target.create(OPTIONS);
      for (let i = 0; i < 20; i++) {
        const madeUp = code();
        assert.deepEqual(await own.check(madeUp), { slowDown: false, intervalMs: BASE }, `code ${i}, first check`);
        assert.deepEqual(await own.check(madeUp), { slowDown: false, intervalMs: BASE }, `code ${i}, second check at once: not slow_down`);
      }
      assert.equal(await target.records(own), 0, 'no record for any of them');

      // The count sees records: a code the grant answered pending has one.
      await own.record(code());
      assert.equal(await target.records(own), 1);
    });

    it('the first poll of a code goes through at the configured interval, and record() makes the next one too soon', async () => {
      const c = code();
      assert.deepEqual(await gate.check(c), { slowDown: false, intervalMs: BASE });
      await gate.record(c);
      assert.deepEqual(await gate.check(c), { slowDown: true, intervalMs: BASE + STEP }, 'at once after the pending answer');
    });

    it('a poll sooner than the interval is slow_down and the interval grows by 5 s; one at the interval (less the slack) goes through', async () => {
      const early = code();
      await pendingPoll(gate, early);
      target.advance(BASE - POLL_SLACK_MS - 1);
      assert.deepEqual(await pendingPoll(gate, early), { slowDown: true, intervalMs: BASE + STEP }, `${BASE - POLL_SLACK_MS - 1} ms after the first poll`);

      const onTime = code();
      await pendingPoll(gate, onTime);
      target.advance(BASE - POLL_SLACK_MS);
      assert.deepEqual(await pendingPoll(gate, onTime), { slowDown: false, intervalMs: BASE }, `${BASE - POLL_SLACK_MS} ms after the first poll (within the slack)`);
    });

    it('the grown interval holds for every later poll: past the old interval but before the new one is slow_down again', async () => {
      const c = code();
      await pendingPoll(gate, c);
      assert.equal((await pendingPoll(gate, c)).slowDown, true, 'at once');
      target.advance(BASE + 500);
      assert.deepEqual(await pendingPoll(gate, c), { slowDown: true, intervalMs: BASE + 2 * STEP }, 'after the old interval, before old + 5 s');
      target.advance(BASE + 2 * STEP);
      assert.deepEqual(await pendingPoll(gate, c), { slowDown: false, intervalMs: BASE + 2 * STEP }, 'after waiting the grown interval: through, and not reset');
      target.advance(BASE + 500);
      assert.deepEqual(await pendingPoll(gate, c), { slowDown: true, intervalMs: BASE + 3 * STEP }, 'the base interval no longer suffices: record() kept the grown one');
    });

    it('a refused poll counts as the previous poll: a client that keeps polling too fast never gets through', async () => {
      const c = code();
      await pendingPoll(gate, c);
      for (let i = 1; i <= 5; i++) {
        target.advance(BASE - 1000);
        assert.deepEqual(await pendingPoll(gate, c), { slowDown: true, intervalMs: BASE + i * STEP }, `poll ${i + 1}`);
      }
    });

    it('once a code has a record, check() counts an on-time poll before the grant answers: a second poll at once is slow_down', async () => {
      const c = code();
      await pendingPoll(gate, c);
      target.advance(BASE - POLL_SLACK_MS);
      assert.deepEqual(await gate.check(c), { slowDown: false, intervalMs: BASE }, 'on time (within the slack)');
      assert.deepEqual(await gate.check(c), { slowDown: true, intervalMs: BASE + STEP }, 'a poll in parallel, before the first was answered');
    });

    it('a code the grant answered otherwise (tokens, expired, invalid) after its first poll is never recorded', async () => {
      const c = code();
      for (let i = 0; i < 3; i++) assert.deepEqual(await gate.check(c), { slowDown: false, intervalMs: BASE }, `check ${i + 1} at once, no record() between`);
    });

    it('keeps each device code to itself', async () => {
      const [a, b] = [code(), code()];
      await pendingPoll(gate, a);
      assert.equal((await pendingPoll(gate, a)).slowDown, true);
      assert.deepEqual(await pendingPoll(gate, b), { slowDown: false, intervalMs: BASE }, 'another code is not slowed by the first');
      assert.equal((await pendingPoll(gate, b)).slowDown, true);
    });
  });
}
