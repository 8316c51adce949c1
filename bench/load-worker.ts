// The load generator's own process (forked by load.ts), so that its CPU is never counted as the
// server's. Receives one LoadSpec over IPC, runs it, answers one LoadResult, exits.
import { createHttp } from './http-driver.js';
import { LatencyRecorder } from './latency.js';
import type { Flow, OpOutcome } from './flows/flow.js';
import { loginFlow } from './flows/login-flow.js';
import { refreshFlow } from './flows/refresh-flow.js';
import { requestsFlow } from './flows/requests-flow.js';
import { soakFlow } from './flows/soak-flow.js';
import type { FromWorker, LoadResult, LoadSpec, ToWorker } from './load-spec.js';

const MAX_ERROR_SAMPLES = 5;
/** A hard stop past the planned end, in case the server stops answering (the per-request timeout should fire first). */
const OVERRUN_MS = 30_000;

function reply(msg: FromWorker): void {
  process.send?.(msg);
}

function buildFlow(spec: LoadSpec, send: Parameters<typeof requestsFlow>[1]): Flow {
  const f = spec.flow;
  switch (f.kind) {
    case 'requests':
      return requestsFlow(f, send);
    case 'refresh':
      return refreshFlow(f, send);
    case 'login':
      return loginFlow(spec.target)(f, send);
    case 'soak':
      return soakFlow(spec.target)(f, send);
  }
}

/** What the measured window saw; warm-up operations are run the same way but not recorded. */
class Tally {
  readonly all = new LatencyRecorder();
  readonly lag = new LatencyRecorder();
  readonly steps = new Map<string, LatencyRecorder>();
  readonly outcomes: Record<string, number> = {};
  readonly errorSamples: string[] = [];
  readonly collected: string[] = [];
  errors = 0;
  dropped = 0;
  firstStart = Infinity;
  lastEnd = 0;

  record(startMs: number, endMs: number, out: OpOutcome, collect: boolean): void {
    const ms = endMs - startMs;
    this.firstStart = Math.min(this.firstStart, startMs);
    this.lastEnd = Math.max(this.lastEnd, endMs);
    this.all.add(ms);
    if (out.step) {
      let r = this.steps.get(out.step);
      if (!r) this.steps.set(out.step, (r = new LatencyRecorder()));
      r.add(ms);
    }
    this.outcomes[out.outcome] = (this.outcomes[out.outcome] ?? 0) + 1;
    if (!out.ok) {
      this.errors++;
      if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(`${out.outcome}${out.detail ? `: ${out.detail}` : ''}`);
    }
    if (collect && out.ok && out.collected !== undefined) this.collected.push(out.collected);
  }
}

const nowMs = () => performance.now();

async function execute(spec: LoadSpec): Promise<LoadResult> {
  const mode = spec.mode;
  const connections = spec.connections ?? (mode.kind === 'closed' ? mode.concurrency : mode.maxInFlight);
  const http = createHttp(spec.target, connections, spec.requestTimeoutMs);
  const flow = buildFlow(spec, http.send);
  const collect = spec.flow.kind === 'requests' && spec.flow.collectBodies === true;
  const tally = new Tally();
  let recording = spec.warmupSeconds <= 0;
  let requestsAtStart = 0;
  const startRecording = () => {
    recording = true;
    requestsAtStart = http.counter.requests;
    reply({ type: 'measuring' });
  };
  if (recording) startRecording();

  const t0 = nowMs();
  const measureStart = t0 + spec.warmupSeconds * 1000;
  const measureEnd = measureStart + mode.seconds * 1000;
  const hardStop = measureEnd + OVERRUN_MS;
  let seq = 0;
  let measuredStarted = 0;

  async function one(vu: number, scheduledAt: number): Promise<void> {
    const counted = recording;
    // Latency counts from when the operation really started. In an open loop that is the schedule
    // unless this process was late (starved of CPU on a shared machine): that lag is the load
    // generator's, not the server's, so it is kept apart. (Nothing here waits for the server before
    // sending, so a stalled server still shows in full: there is no coordinated omission to hide.)
    const startedAt = nowMs();
    if (counted && mode.kind === 'open') tally.lag.add(startedAt - scheduledAt);
    let out: OpOutcome;
    try {
      out = await flow.run(vu, seq++);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      out = { ok: false, outcome: e.code ?? e.message ?? 'error', detail: e.message };
    }
    if (counted) tally.record(startedAt, nowMs(), out, collect);
  }

  if (mode.kind === 'closed') {
    const limit = mode.operations ?? Infinity;
    const vu = async (id: number) => {
      for (;;) {
        const t = nowMs();
        if (!recording && t >= measureStart) startRecording();
        if (t >= measureEnd || t >= hardStop || (recording && measuredStarted >= limit)) return;
        if (recording) measuredStarted++;
        await one(id, t);
        if (mode.thinkMs) await new Promise((r) => setTimeout(r, mode.thinkMs));
      }
    };
    await Promise.all(Array.from({ length: mode.concurrency }, (_, i) => vu(i)));
  } else {
    // Start times follow the schedule, not the answers: a slow server gets more work, not less.
    const interval = 1000 / mode.rate;
    const inFlight = new Set<Promise<void>>();
    let next = nowMs();
    let vuId = 0;
    while (next < measureEnd) {
      const t = nowMs();
      if (!recording && t >= measureStart) startRecording();
      while (next <= t && next < measureEnd) {
        const scheduled = next;
        next += interval;
        if (inFlight.size >= mode.maxInFlight) {
          if (recording) {
            tally.dropped++;
            tally.errors++;
          }
          continue;
        }
        // Open loops are for flows without per-user state (requests, logins): virtual user ids only spread them.
        const p = one(vuId++ % mode.maxInFlight, scheduled);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next - nowMs(), 5))));
    }
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(inFlight), new Promise((r) => (giveUp = setTimeout(r, Math.max(0, hardStop - nowMs()))))]);
    clearTimeout(giveUp);
  }
  http.close();

  const seconds = tally.lastEnd > tally.firstStart ? (tally.lastEnd - tally.firstStart) / 1000 : 0;
  const operations = tally.all.count;
  return {
    operations,
    errors: tally.errors,
    dropped: tally.dropped,
    seconds: Math.round(seconds * 1000) / 1000,
    opsPerSecond: seconds > 0 ? Math.round((operations / seconds) * 10) / 10 : 0,
    latency: tally.all.summary(),
    steps: Object.fromEntries([...tally.steps].map(([k, r]) => [k, r.summary()])),
    outcomes: tally.outcomes,
    httpRequests: http.counter.requests - requestsAtStart,
    started: seq,
    errorSamples: tally.errorSamples,
    ...(mode.kind === 'open' ? { scheduleLag: tally.lag.summary() } : {}),
    ...(collect ? { collected: tally.collected } : {}),
  };
}

// Never outlive the benchmark that started this process.
process.on('disconnect', () => process.exit(0));
process.on('message', (msg: ToWorker) => {
  if (msg.type === 'stop') process.exit(0);
  if (msg.type !== 'run') return;
  execute(msg.spec).then(
    (result) => {
      reply({ type: 'done', result });
    },
    (err: Error) => {
      reply({ type: 'failed', error: err.stack ?? err.message });
    },
  );
});
