// The closed loop of the in-process baselines (bare ldapts, bare PAM): the same shape of result as
// the HTTP load worker, driven over IPC the same way, so measure() treats both alike.
import { LatencyRecorder } from '../latency.js';
import type { FromWorker, LoadResult } from '../load-spec.js';

export interface LoopRun {
  type: 'run';
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
}

/** One operation; resolves true when it did what the baseline does, false (or a rejection) is an error. */
export type Op = (seq: number) => Promise<boolean>;

async function runLoop(op: Op, run: LoopRun, onMeasuring: () => void): Promise<LoadResult> {
  const all = new LatencyRecorder();
  const outcomes: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let seq = 0;
  let recording = false;
  let first = Infinity;
  let last = 0;
  const start = performance.now();
  const measureStart = start + run.warmupSeconds * 1000;
  const measureEnd = measureStart + run.seconds * 1000;
  const vu = async () => {
    for (;;) {
      const t = performance.now();
      if (!recording && t >= measureStart) {
        recording = true;
        onMeasuring();
      }
      if (t >= measureEnd) return;
      const counted = recording;
      let outcome: string;
      try {
        outcome = (await op(seq++)) ? 'ok' : 'failed';
      } catch (err) {
        outcome = (err as Error).message.slice(0, 80);
      }
      const end = performance.now();
      if (!counted) continue;
      first = Math.min(first, t);
      last = Math.max(last, end);
      all.add(end - t);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome !== 'ok') {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(outcome);
      }
    }
  };
  await Promise.all(Array.from({ length: run.concurrency }, vu));
  const seconds = last > first ? (last - first) / 1000 : 0;
  return {
    operations: all.count,
    errors,
    dropped: 0,
    seconds: Math.round(seconds * 1000) / 1000,
    opsPerSecond: seconds > 0 ? Math.round((all.count / seconds) * 10) / 10 : 0,
    latency: all.summary(),
    steps: {},
    outcomes,
    httpRequests: 0,
    started: seq,
    errorSamples,
  };
}

/**
 * Make this process a baseline loop: after `setup` resolves it says {type:'ready'}, then answers
 * each {type:'run'} with 'measuring' and 'done' (FromWorker messages). Exits when the parent goes.
 */
export function serveOpLoop(setup: () => Promise<{ op: Op; close?: () => Promise<void> }>): void {
  const send = (m: FromWorker | { type: 'ready' }) => process.send?.(m);
  process.on('disconnect', () => process.exit(0));
  setup().then(
    ({ op }) => {
      process.on('message', (msg: LoopRun) => {
        if (msg.type !== 'run') return;
        runLoop(op, msg, () => send({ type: 'measuring' })).then(
          (result) => send({ type: 'done', result }),
          (err: Error) => send({ type: 'failed', error: err.stack ?? err.message }),
        );
      });
      send({ type: 'ready' });
    },
    (err: Error) => {
      send({ type: 'failed', error: err.stack ?? err.message });
      process.exit(1);
    },
  );
}
