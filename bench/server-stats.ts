import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { redisCli } from '../test/harness/redis.js';

/** One look at a process: CPU time so far and memory, from /proc (the process's own accounting, all threads). */
export interface ProcSample {
  /** utime + stime, milliseconds. */
  cpuMs: number;
  /** The same for the main thread alone (the event loop: JavaScript, and the syscalls it makes). */
  mainThreadCpuMs: number;
  /** Resident set now and its high-water mark, kilobytes. */
  rssKb: number;
  hwmKb: number;
  /** Wall clock, milliseconds (performance.now()). */
  at: number;
}

let ticks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`, 100 on Linux almost everywhere). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const out = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    ticks = Number.isFinite(out) && out > 0 ? out : 100;
  }
  return ticks;
}

/** utime + stime in clock ticks from a /proc stat file. */
function statTicks(file: string): number {
  const stat = readFileSync(file, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are at 11 and 12 once the first two are cut off.
  return Number(fields[11]) + Number(fields[12]);
}

/** Read /proc/<pid>/stat and status; throws when the process is gone. */
export function sampleProc(pid: number): ProcSample {
  const cpuTicks = statTicks(`/proc/${pid}/stat`);
  const mainTicks = statTicks(`/proc/${pid}/task/${pid}/stat`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuMs: (cpuTicks * 1000) / clockTicks(), mainThreadCpuMs: (mainTicks * 1000) / clockTicks(), rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), at: performance.now() };
}

/** CPU milliseconds `pid` spent between two samples. */
export function cpuBetween(before: ProcSample, after: ProcSample): number {
  return after.cpuMs - before.cpuMs;
}

/** Samples VmRSS every `everyMs` while running, for the peak within a window (VmHWM is the peak since start). */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  peakKb = 0;
  constructor(
    private readonly pid: number,
    private readonly everyMs = 250,
  ) {}

  start(): this {
    const tick = () => {
      try {
        this.peakKb = Math.max(this.peakKb, sampleProc(this.pid).rssKb);
      } catch {
        // the process ended; the last peak stands
      }
    };
    tick();
    this.timer = setInterval(tick, this.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): number {
    clearInterval(this.timer);
    try {
      this.peakKb = Math.max(this.peakKb, sampleProc(this.pid).rssKb);
    } catch {
      // gone
    }
    return this.peakKb;
  }
}

export interface RedisMemory {
  usedMemory: number;
  dbsize: number;
}

/** `INFO memory` used_memory and `DBSIZE` of the Redis on 127.0.0.1:port; rejects when redis-cli fails. */
export async function redisMemory(port: number): Promise<RedisMemory> {
  const info = await redisCli(port, ['INFO', 'memory']);
  const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  const dbsize = Number(await redisCli(port, ['DBSIZE']));
  return { usedMemory: used, dbsize };
}

/** Commands the Redis on 127.0.0.1:port has processed since it started (`INFO stats`). */
export async function redisCommandsProcessed(port: number): Promise<number> {
  return Number(/^total_commands_processed:(\d+)/m.exec(await redisCli(port, ['INFO', 'stats']))?.[1] ?? NaN);
}

/** The redis-server's pid (from `INFO server`), so its CPU can be sampled like the server's. */
export async function redisPid(port: number): Promise<number> {
  const info = await redisCli(port, ['INFO', 'server']);
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  if (!Number.isInteger(pid)) throw new Error('redis INFO server has no process_id');
  return pid;
}

/** The slapd's pid from the pidfile it writes into its directory. */
export function slapdPid(dir: string): number {
  return Number(readFileSync(`${dir}/slapd.pid`, 'utf8').trim());
}

/** Threads of a process (the main thread, libuv's pool, V8's helpers and every worker thread). */
export function threadCount(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export interface HeapStats {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

/** The main thread's V8 heap from unixid's Prometheus endpoint (prom-client's default metrics), or undefined when it is off. */
export async function heapFromMetrics(url: string, path = '/metrics'): Promise<HeapStats | undefined> {
  try {
    const res = await fetch(`${url}${path}`);
    if (!res.ok) return undefined;
    const text = await res.text();
    const value = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 104857.6) / 10;
    return { heapUsedMb: value('nodejs_heap_size_used_bytes'), heapTotalMb: value('nodejs_heap_size_total_bytes'), externalMb: value('nodejs_external_memory_bytes') };
  } catch {
    return undefined;
  }
}
