import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createMemoryDevicePollGate, SLOW_DOWN_STEP_MS, type MemoryDevicePollGate } from '../../src/store/device-poll-gate.js';
import { devicePollKey } from '../../src/store/redis-keys.js';
import { pollGateConformance } from '../harness/device-poll-gate-conformance.js';

pollGateConformance('memory', async () => {
  let clock = Date.parse('2030-01-01T00:00:00Z');
  return {
    create: (options) => createMemoryDevicePollGate({ ...options, now: () => clock }),
    records: async (gate) => (gate as MemoryDevicePollGate).size(),
    advance: (ms) => {
      clock += ms;
    },
  };
});

describe('memory device poll gate', () => {
  it('forgets a record that only knew the last poll after one interval, and a grown interval after a code lifetime', async () => {
    let clock = 0;
    const gate = createMemoryDevicePollGate({ intervalSeconds: 5, codeLifetimeSeconds: 600, now: () => clock });
    await gate.record('plain');
    clock += 5000;
    assert.deepEqual(await gate.check('plain'), { slowDown: false, intervalMs: 5000 }, 'a fresh start after one interval');

    await gate.record('grown');
    assert.equal((await gate.check('grown')).slowDown, true);
    clock += 599_000;
    assert.deepEqual(await gate.check('grown'), { slowDown: false, intervalMs: 5000 + SLOW_DOWN_STEP_MS }, 'still remembered just short of a code lifetime');
    await gate.record('grown');
    assert.equal((await gate.check('grown')).slowDown, true, 'record() keeps the grown interval');
    clock += 600_000;
    assert.deepEqual(await gate.check('grown'), { slowDown: false, intervalMs: 5000 }, 'forgotten once no code could still be polling');
  });

  it('made-up codes add no entry, so there is nothing to sweep; expired records are swept', async () => {
    let clock = 0;
    const gate = createMemoryDevicePollGate({ intervalSeconds: 5, codeLifetimeSeconds: 600, now: () => clock });
    for (let i = 0; i < 1000; i++) {
      const madeUp = randomBytes(16).toString('base64url');
      await gate.check(madeUp);
      await gate.check(madeUp);
      clock += 10;
    }
    assert.equal(gate.size(), 0, 'checks of codes without a record add nothing');

    await gate.record('real');
    assert.equal(gate.size(), 1);
    clock += 10_000;
    await gate.check('another');
    assert.equal(gate.size(), 0, 'the expired record was swept');
  });

  it('refuses an interval below 1 s or not shorter than the code lifetime', () => {
    assert.throws(() => createMemoryDevicePollGate({ intervalSeconds: 0, codeLifetimeSeconds: 600 }), TypeError);
    assert.throws(() => createMemoryDevicePollGate({ intervalSeconds: 1.5, codeLifetimeSeconds: 600 }), TypeError);
    assert.throws(() => createMemoryDevicePollGate({ intervalSeconds: 600, codeLifetimeSeconds: 600 }), TypeError);
  });

  it('keys a device code by its SHA-256 only', () => {
    const key = devicePollKey('unixid:', 'the-device-code');
    assert.match(key, /^unixid:devicePoll:[A-Za-z0-9_-]{43}$/);
    assert.ok(!key.includes('the-device-code'));
    assert.equal(devicePollKey('unixid:', 'the-device-code'), key, 'stable');
    assert.notEqual(devicePollKey('unixid:', 'the-device-codf'), key);
  });
});
