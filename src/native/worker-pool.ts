import { Worker } from 'node:worker_threads';
import type { NativeRequest, NativeResponse } from './native-worker.js';

type Request = NativeRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** Why a pool refused or abandoned a call. */
export class PoolError extends Error {
  constructor(
    readonly kind: 'busy' | 'timeout' | 'closed' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'PoolError';
  }
}

export interface PoolOptions {
  /** Name for errors and logs (pam, nss). */
  name: string;
  /** Threads, i.e. calls running at once. */
  threads: number;
  /** Calls allowed to wait for a thread; more are refused at once as busy. */
  maxQueue: number;
  /** A call not answered within this is rejected; its thread stays busy until the call returns. */
  timeoutMs: number;
  /** A thread idle this long is stopped (each costs a V8 heap); threads start again on demand. Default 60 s. */
  idleMs?: number;
}

export interface NativePool {
  /** Run one blocking native call on a pool thread. Rejects with PoolError (busy, timeout, closed, failed). */
  run<T>(req: Request, transfer?: ArrayBuffer[]): Promise<T>;
  /** Calls running and waiting now. */
  stats(): { running: number; queued: number; threads: number; maxThreads: number };
  close(): Promise<void>;
}

interface Job {
  req: Request;
  transfer: ArrayBuffer[];
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  busy: Map<number, Job>;
  idleTimer?: NodeJS.Timeout;
}

const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./native-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

/** A worker on the compiled file; from source (tests, `npm run dev`) the thread loads tsx first. */
function startWorker(): Worker {
  // The threads run a few lines of JavaScript around a blocking C call: a small heap each.
  const resourceLimits = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 };
  if (!fromSource) return new Worker(workerUrl, { resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true, resourceLimits: { ...resourceLimits, maxOldGenerationSizeMb: 64 } });
}

/**
 * Up to `threads` worker threads that own the blocking native calls, started on demand and stopped
 * when idle. A bounded queue in front
 * means a storm of slow logins is refused quickly instead of piling up, and a hung call
 * (NSS behind a dead SSSD, a PAM module waiting on a network) times out for the caller.
 */
export function createNativePool(options: PoolOptions): NativePool {
  const slots: Slot[] = [];
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = startWorker();
    worker.unref();
    const slot: Slot = { worker, busy: new Map() };
    worker.on('message', (res: NativeResponse) => {
      const job = slot.busy.get(res.id);
      slot.busy.delete(res.id);
      if (job && !job.settled) {
        job.settled = true;
        clearTimeout(job.timer);
        if (res.ok) job.resolve(res.value);
        else job.reject(new PoolError('failed', `${options.name}: ${res.error}`));
      }
      pump();
    });
    worker.on('error', (err) => {
      for (const job of slot.busy.values()) settleError(job, new PoolError('failed', `${options.name} thread died: ${err.message}`));
      slot.busy.clear();
      retire(slot);
      pump();
    });
    return slot;
  }

  function settleError(job: Job, err: Error): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    job.reject(err);
  }

  function retire(slot: Slot): void {
    clearTimeout(slot.idleTimer);
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
  }

  function pump(): void {
    while (queue.length > 0 && (queue[0]!.settled || slots.some((s) => s.busy.size === 0) || slots.length < options.threads)) {
      const job = queue.shift()!;
      if (job.settled) continue;
      let slot = slots.find((s) => s.busy.size === 0);
      if (!slot) {
        slot = spawn();
        slots.push(slot);
      }
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      const id = nextId++;
      slot.busy.set(id, job);
      slot.worker.postMessage({ ...job.req, id }, job.transfer);
    }
    for (const slot of slots) {
      if (slot.busy.size > 0 || slot.idleTimer !== undefined) continue;
      const idle = slot;
      idle.idleTimer = setTimeout(() => {
        if (idle.busy.size > 0 || closed) return;
        retire(idle);
        void idle.worker.terminate();
      }, options.idleMs ?? 60_000);
      idle.idleTimer.unref();
    }
  }

  return {
    run<T>(req: Request, transfer: ArrayBuffer[] = []) {
      if (closed) return Promise.reject(new PoolError('closed', `${options.name} pool is closed`));
      const waiting = queue.filter((j) => !j.settled).length;
      const free = slots.length < options.threads || slots.some((s) => s.busy.size === 0);
      if (!free && waiting >= options.maxQueue) {
        return Promise.reject(new PoolError('busy', `${options.name}: ${options.threads} calls running and ${waiting} waiting`));
      }
      return new Promise<T>((resolve, reject) => {
        const job: Job = { req, transfer, resolve: resolve as (v: unknown) => void, reject, settled: false };
        job.timer = setTimeout(() => settleError(job, new PoolError('timeout', `${options.name}: no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
        job.timer.unref();
        queue.push(job);
        pump();
      });
    },
    stats() {
      return {
        running: slots.reduce((n, s) => n + s.busy.size, 0),
        queued: queue.filter((j) => !j.settled).length,
        threads: slots.length,
        maxThreads: options.threads,
      };
    },
    async close() {
      closed = true;
      for (const job of queue) settleError(job, new PoolError('closed', `${options.name} pool is closed`));
      queue.length = 0;
      for (const s of slots) clearTimeout(s.idleTimer);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
