import { runLoad, type LoadHooks } from './load.js';
import type { LoadResult, LoadSpec } from './load-spec.js';
import { RssSampler, cpuBetween, redisCommandsProcessed, sampleProc, type ProcSample } from './server-stats.js';

/** A process whose CPU a measurement charges (unixid, redis-server, slapd, a baseline). */
export interface Watched {
  name: string;
  pid: number;
}

export interface ProcessCost {
  cpuMs: number;
  /** CPU milliseconds per measured operation (every thread, user and system time). */
  cpuMsPerOp: number;
  /** Of which the main thread (the event loop); the rest is libuv's pool, workers, GC helpers. */
  mainThreadMsPerOp: number;
  /** Share of one core during the window (1 = one core busy all the time). */
  cores: number;
  /** VmRSS peak sampled during the window, and VmHWM (peak since start) at its end, MB. */
  peakRssMb: number;
  hwmMb: number;
  rssEndMb: number;
}

export interface Measurement {
  load: LoadResult;
  /** By Watched.name. */
  cost: Record<string, ProcessCost>;
  /** Redis commands per operation (INFO stats), when a Redis port was given. */
  redisCommandsPerOp?: number;
  /** With repeat > 1: every run's rate and CPU per op of the first watched process, in order. */
  runs?: { opsPerSecond: number; cpuMsPerOp: number }[];
}

export interface MeasureOptions {
  /** Count the commands this Redis processed during the window. */
  redisPort?: number;
  /**
   * Run this many times and keep the run whose first watched process spent the least CPU per
   * operation: on a shared machine other work only ever adds (cache and core contention), so the
   * cheapest run is the closest to the code's own cost. Only for loads that can be run again.
   */
  repeat?: number;
}

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

/** Run an HTTP load from the load worker and charge the watched processes for it (see measureRun). */
export function measure(spec: LoadSpec, watched: Watched[], options: MeasureOptions = {}): Promise<Measurement> {
  return measureRun((hooks) => runLoad(spec, hooks), watched, options);
}

/**
 * Run a load (the HTTP load worker, or a baseline's own loop) and charge the watched processes'
 * CPU (from /proc, sampled when the run starts recording and when it reports) to the operations
 * measured in between; with `repeat`, the cheapest of several runs. Rejects as the run does.
 */
export async function measureRun(run: (hooks: LoadHooks) => Promise<LoadResult>, watched: Watched[], options: MeasureOptions = {}): Promise<Measurement> {
  const times = Math.max(1, Math.floor(options.repeat ?? 1));
  if (times === 1) return measureOnce(run, watched, options);
  const all: Measurement[] = [];
  for (let i = 0; i < times; i++) all.push(await measureOnce(run, watched, options));
  const primary = watched[0]!.name;
  const cpu = (m: Measurement) => m.cost[primary]?.cpuMsPerOp ?? Infinity;
  const best = all.reduce((a, b) => (cpu(b) < cpu(a) ? b : a));
  return { ...best, runs: all.map((m) => ({ opsPerSecond: m.load.opsPerSecond, cpuMsPerOp: cpu(m) })) };
}

async function measureOnce(run: (hooks: LoadHooks) => Promise<LoadResult>, watched: Watched[], options: MeasureOptions): Promise<Measurement> {
  const samplers = new Map(watched.map((w) => [w.name, new RssSampler(w.pid).start()]));
  let before: Map<string, ProcSample> | undefined;
  let commandsBefore: Promise<number> | undefined;
  const commands = () => (options.redisPort === undefined ? Promise.resolve(NaN) : redisCommandsProcessed(options.redisPort));
  const take = () => new Map(watched.map((w) => [w.name, sampleProc(w.pid)]));
  try {
    const load = await run({
      onMeasuring: () => {
        before = take();
        commandsBefore = commands();
      },
    });
    const after = take();
    const commandsAfter = await commands();
    const cost: Record<string, ProcessCost> = {};
    for (const w of watched) {
      const b = before?.get(w.name);
      const a = after.get(w.name)!;
      const cpuMs = b ? cpuBetween(b, a) : NaN;
      const mainMs = b ? a.mainThreadCpuMs - b.mainThreadCpuMs : NaN;
      const wallMs = b ? a.at - b.at : NaN;
      cost[w.name] = {
        cpuMs: Math.round(cpuMs),
        cpuMsPerOp: load.operations > 0 ? Math.round((cpuMs / load.operations) * 1000) / 1000 : NaN,
        mainThreadMsPerOp: load.operations > 0 ? Math.round((mainMs / load.operations) * 1000) / 1000 : NaN,
        cores: Math.round((cpuMs / wallMs) * 100) / 100,
        peakRssMb: mb(samplers.get(w.name)!.stop()),
        hwmMb: mb(a.hwmKb),
        rssEndMb: mb(a.rssKb),
      };
    }
    const redisCommands = commandsAfter - ((await commandsBefore) ?? NaN);
    return {
      load,
      cost,
      // redis-cli's own INFO calls are two of these: negligible next to thousands of operations.
      ...(Number.isFinite(redisCommands) && load.operations > 0 ? { redisCommandsPerOp: Math.round((redisCommands / load.operations) * 10) / 10 } : {}),
    };
  } finally {
    for (const s of samplers.values()) s.stop();
  }
}
