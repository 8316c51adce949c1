import type { Measurement } from './measure.js';
import { median } from './median.js';
import { outcomeNotes } from './report.js';

/**
 * One unixid run and one baseline run next to it. On a shared machine the speed of a core drifts
 * over minutes (other tenants, the cache, the clock); two runs seconds apart see the same
 * machine, so their ratio carries little of that drift.
 */
export interface Pair {
  baseline: Measurement;
  unixid: Measurement;
  /** unixid's operations per second over the baseline's. */
  ratio: number;
}

/** Every pair in the order run, and the one whose ratio is the median (the lower middle one for an even count). */
export interface Paired {
  all: Pair[];
  median: Pair;
}

/**
 * Run `times` pairs of the baseline and unixid, alternating which goes first (baseline first in
 * the first pair), so a drift that runs one way all along does not favour either side.
 */
export async function runPaired(times: number, baseline: () => Promise<Measurement>, unixid: () => Promise<Measurement>): Promise<Paired> {
  const all: Pair[] = [];
  for (let i = 0; i < Math.max(1, Math.floor(times)); i++) {
    let b: Measurement;
    let u: Measurement;
    if (i % 2 === 0) {
      b = await baseline();
      u = await unixid();
    } else {
      u = await unixid();
      b = await baseline();
    }
    all.push({ baseline: b, unixid: u, ratio: u.load.opsPerSecond / b.load.opsPerSecond });
  }
  return { all, median: median(all, (p) => p.ratio, 'lower') };
}

/** Whether every run of every pair answered without an error. */
export function allClean(p: Paired): boolean {
  return p.all.every((x) => x.unixid.load.errors === 0 && x.baseline.load.errors === 0);
}

/**
 * Notes for a row compared by pairs: every pair's rates and CPU per operation (of the watched
 * processes `names.unixid` and `names.baseline`), and the errors of any run that had some.
 */
export function pairNotes(p: Paired, names: { unixid: string; baseline: string }, problems?: () => string[]): string[] {
  const rate = (m: Measurement) => Math.round(m.load.opsPerSecond);
  const cpu = (m: Measurement, who: string) => m.cost[who]?.cpuMsPerOp;
  return [
    `median of ${p.all.length} pairs, unixid/baseline req/s: ${p.all.map((x) => `${rate(x.unixid)}/${rate(x.baseline)} = ${x.ratio.toFixed(2)}×`).join(', ')}`,
    `CPU ms per op in those runs, unixid/baseline: ${p.all.map((x) => `${cpu(x.unixid, names.unixid)}/${cpu(x.baseline, names.baseline)}`).join(', ')}`,
    ...pairErrorNotes(p, problems),
  ];
}

/** The errors of every run that had some, labelled with its pair and side (`problems`: the server's last warnings). */
export function pairErrorNotes(p: Paired, problems?: () => string[]): string[] {
  return p.all.flatMap((x, i) => [
    ...(x.unixid.load.errors > 0 ? outcomeNotes(x.unixid, `pair ${i + 1}, unixid: `, problems) : []),
    ...(x.baseline.load.errors > 0 ? outcomeNotes(x.baseline, `pair ${i + 1}, baseline: `) : []),
  ]);
}
