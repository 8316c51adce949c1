import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Measurement } from '../../bench/measure.js';
import { median } from '../../bench/median.js';
import { allClean, pairNotes, runPaired } from '../../bench/paired.js';

/** A measurement with only what the pairing reads. */
function run(opsPerSecond: number, errors = 0): Measurement {
  return {
    load: { opsPerSecond, errors, operations: opsPerSecond * 5, seconds: 5, outcomes: { 200: opsPerSecond * 5 }, errorSamples: errors ? ['HTTP 500'] : [] },
    cost: { unixid: { cpuMsPerOp: 1000 / opsPerSecond }, baseline: { cpuMsPerOp: 1000 / opsPerSecond } },
  } as unknown as Measurement;
}

describe('bench pairing (the webhook ratio)', () => {
  it('the median is the middle item, and the lower or higher middle one for an even count, as asked', () => {
    assert.equal(median([3, 1, 2], (x) => x, 'lower'), 2);
    assert.equal(median([3, 1, 2], (x) => x, 'higher'), 2);
    assert.equal(median([4, 1, 3, 2], (x) => x, 'lower'), 2);
    assert.equal(median([4, 1, 3, 2], (x) => x, 'higher'), 3);
    assert.equal(median([7], (x) => x, 'lower'), 7);
    assert.throws(() => median([], (x: number) => x, 'lower'), /no items/);
  });

  it('pairs alternate which side runs first, and the row takes the pair with the median ratio', async () => {
    const order: string[] = [];
    const baselineRates = [100, 200, 100];
    const unixidRates = [90, 120, 70];
    let b = 0;
    let u = 0;
    const paired = await runPaired(
      3,
      async () => (order.push('baseline'), run(baselineRates[b++]!)),
      async () => (order.push('unixid'), run(unixidRates[u++]!)),
    );
    assert.deepEqual(order, ['baseline', 'unixid', 'unixid', 'baseline', 'baseline', 'unixid']);
    assert.deepEqual(
      paired.all.map((p) => p.ratio),
      [0.9, 0.6, 0.7],
    );
    // The median ratio is 0.7 (the third pair), not the best (0.9) nor the ratio of the medians (90/100).
    assert.equal(paired.median, paired.all[2]);
    assert.equal(paired.median.unixid.load.opsPerSecond, 70);
  });

  it('a pair with an error in either run makes the comparison unclean, and its notes say which', async () => {
    const paired = await runPaired(1, async () => run(100), async () => run(90, 3));
    assert.equal(allClean(paired), false);
    const notes = pairNotes(paired, { unixid: 'unixid', baseline: 'baseline' }, () => ['store unavailable']);
    assert.match(notes[0]!, /median of 1 pairs, unixid\/baseline req\/s: 90\/100 = 0\.90×/);
    assert.ok(notes.some((n) => n.startsWith('pair 1, unixid: 3 errors')), notes.join('\n'));
    assert.ok(notes.some((n) => n === 'pair 1, unixid: server said: store unavailable'), notes.join('\n'));
    assert.ok(!notes.some((n) => n.startsWith('pair 1, baseline:')));

    const clean = await runPaired(2, async () => run(100), async () => run(80));
    assert.equal(allClean(clean), true);
    assert.deepEqual(
      clean.all.map((p) => p.ratio),
      [0.8, 0.8],
    );
  });
});
