import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createRecentKeys } from '../../src/kubernetes/recent-keys.js';

/** The plain model: the last `cap` distinct keys added, in an array, oldest first. */
function model(cap: number) {
  const order: number[] = [];
  return {
    has: (k: number) => order.includes(k | 0),
    add(k: number) {
      const key = k | 0;
      if (order.includes(key)) return;
      if (order.length === cap) order.shift();
      order.push(key);
    },
    get size() {
      return order.length;
    },
  };
}

describe('recent keys (the webhook admission filter)', () => {
  it('remembers the last keys added and forgets the oldest first', () => {
    const r = createRecentKeys(3);
    for (const k of [10, 20, 30]) r.add(k);
    assert.deepEqual([10, 20, 30, 40].map((k) => r.has(k)), [true, true, true, false]);
    r.add(40);
    assert.equal(r.has(10), false, 'the oldest went');
    assert.deepEqual([20, 30, 40].map((k) => r.has(k)), [true, true, true]);
    assert.equal(r.size, 3);
  });

  it('adding a remembered key neither duplicates it nor makes it newer', () => {
    const r = createRecentKeys(2);
    r.add(1);
    r.add(2);
    r.add(1);
    r.add(3);
    assert.equal(r.has(1), false, '1 was still the oldest, so 3 pushed it out');
    assert.equal(r.has(2), true);
    assert.equal(r.has(3), true);
  });

  it('takes any 32-bit key, zero and negatives included', () => {
    const r = createRecentKeys(4);
    for (const k of [0, -1, 0x7fffffff, -0x80000000]) r.add(k);
    for (const k of [0, -1, 0x7fffffff, -0x80000000]) assert.equal(r.has(k), true, String(k));
    assert.equal(r.has(1), false);
  });

  it('agrees with a plain list for any sequence of adds and lookups (colliding keys and wrap-around included)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        // A small range of keys: many repeats and many keys that share a home slot in a small table.
        fc.array(fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: -40, max: 40 }), fc.integer())), { maxLength: 300 }),
        (cap, ops) => {
          const r = createRecentKeys(cap);
          const m = model(cap);
          for (const [isAdd, k] of ops) {
            if (isAdd) {
              assert.equal(r.add(k), !m.has(k), `add(${k}) says whether it was new`);
              m.add(k);
            } else assert.equal(r.has(k), m.has(k), `has(${k})`);
            assert.equal(r.size, m.size);
          }
          for (let k = -40; k <= 40; k++) assert.equal(r.has(k), m.has(k), `has(${k}) at the end`);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
