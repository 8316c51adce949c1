import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { POLL_SLACK_MS, SLOW_DOWN_STEP_MS, type DevicePollGate, type DevicePollGateOptions } from '../../src/store/device-poll-gate.js';

/** One poll gate implementation under test, as the shared suite sees it. */
export interface PollGateTarget {
  /** A gate with these options on the target's clock. On Redis every one shares the same server and key prefix. */
  create(options: Omit<DevicePollGateOptions, 'now'>): DevicePollGate;
  /** Let `ms` pass on the clock the gates were given. */
  advance(ms: number): void;
  close?(): Promise<void>;
}

const BASE_S = 5;
const BASE = BASE_S * 1000;
const STEP = SLOW_DOWN_STEP_MS;
const OPTIONS = { intervalSeconds: BASE_S, codeLifetimeSeconds: 600 };

// Every test uses fresh device codes, so tests sharing one Redis cannot see each other's records.
const code = (): string => randomBytes(32).toString('base64url');

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

    it('lets the first poll of a code through at the configured interval', async () => {
      assert.deepEqual(await gate.poll(code()), { slowDown: false, intervalMs: BASE });
    });

    it('a poll sooner than the interval is slow_down and the interval grows by 5 s; one at the interval (less the slack) goes through', async () => {
      const early = code();
      await gate.poll(early);
      target.advance(BASE - POLL_SLACK_MS - 1);
      assert.deepEqual(await gate.poll(early), { slowDown: true, intervalMs: BASE + STEP }, `${BASE - POLL_SLACK_MS - 1} ms after the first poll`);

      const onTime = code();
      await gate.poll(onTime);
      target.advance(BASE - POLL_SLACK_MS);
      assert.deepEqual(await gate.poll(onTime), { slowDown: false, intervalMs: BASE }, `${BASE - POLL_SLACK_MS} ms after the first poll (within the slack)`);
    });

    it('the grown interval holds for every later poll: past the old interval but before the new one is slow_down again', async () => {
      const c = code();
      await gate.poll(c);
      assert.equal((await gate.poll(c)).slowDown, true, 'at once');
      target.advance(BASE + 500);
      assert.deepEqual(await gate.poll(c), { slowDown: true, intervalMs: BASE + 2 * STEP }, 'after the old interval, before old + 5 s');
      target.advance(BASE + 2 * STEP);
      assert.deepEqual(await gate.poll(c), { slowDown: false, intervalMs: BASE + 2 * STEP }, 'after waiting the grown interval: through, and not reset');
      target.advance(BASE + 500);
      assert.deepEqual(await gate.poll(c), { slowDown: true, intervalMs: BASE + 3 * STEP }, 'the base interval no longer suffices');
    });

    it('a refused poll counts as the previous poll: a client that keeps polling too fast never gets through', async () => {
      const c = code();
      await gate.poll(c);
      for (let i = 1; i <= 5; i++) {
        target.advance(BASE - 1000);
        assert.deepEqual(await gate.poll(c), { slowDown: true, intervalMs: BASE + i * STEP }, `poll ${i + 1}`);
      }
    });

    it('keeps each device code to itself', async () => {
      const [a, b] = [code(), code()];
      await gate.poll(a);
      assert.equal((await gate.poll(a)).slowDown, true);
      assert.deepEqual(await gate.poll(b), { slowDown: false, intervalMs: BASE }, 'another code is not slowed by the first');
      assert.equal((await gate.poll(b)).slowDown, true);
    });
  });
}
