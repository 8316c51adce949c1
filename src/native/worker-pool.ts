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
}

export interface NativePool {
  /** Run one blocking native call on a pool thread. Rejects with PoolError (busy, timeout, closed, failed). */
  run<T>(req: Request, transfer?: ArrayBuffer[]): Promise<T>;
  /** Calls running and waiting now. */
  stats(): { running: number; queued: number; threads: number };
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
}

const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./native-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

/** A worker on the compiled file; from source (tests, `npm run dev`) the thread loads tsx first. */
function startWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true });
}

/**
 * A fixed set of worker threads that own the blocking native calls. A bounded queue in front
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
      const i = slots.indexOf(slot);
      if (i >= 0 && !closed) slots[i] = spawn();
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

  function pump(): void {
    while (queue.length > 0) {
      const slot = slots.find((s) => s.busy.size === 0);
      if (!slot) return;
      const job = queue.shift()!;
      if (job.settled) continue;
      const id = nextId++;
      slot.busy.set(id, job);
      slot.worker.postMessage({ ...job.req, id }, job.transfer);
    }
  }

  for (let i = 0; i < options.threads; i++) slots.push(spawn());

  return {
    run<T>(req: Request, transfer: ArrayBuffer[] = []) {
      if (closed) return Promise.reject(new PoolError('closed', `${options.name} pool is closed`));
      const waiting = queue.filter((j) => !j.settled).length;
      const idle = slots.some((s) => s.busy.size === 0);
      if (!idle && waiting >= options.maxQueue) {
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
      };
    },
    async close() {
      closed = true;
      for (const job of queue) settleError(job, new PoolError('closed', `${options.name} pool is closed`));
      queue.length = 0;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
