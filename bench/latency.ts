import type { LatencySummary } from './load-spec.js';

/** Latencies in milliseconds, kept exactly (a typed array that doubles), summarised by sorting once. */
export class LatencyRecorder {
  private values = new Float64Array(4096);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    return summarize(this.values.subarray(0, this.n));
  }
}

/** Nearest-rank percentiles (the p99 of 100 values is the 99th smallest), rounded to 0.01 ms. */
export function summarize(values: Float64Array): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const round = (v: number) => Math.round(v * 100) / 100;
  const at = (p: number) => (n === 0 ? 0 : round(sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!));
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, p50: at(50), p90: at(90), p99: at(99), max: n === 0 ? 0 : round(sorted[n - 1]!), mean: n === 0 ? 0 : round(sum / n) };
}
