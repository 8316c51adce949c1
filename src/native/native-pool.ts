import { loadBinding, type NativeBinding } from './binding.js';
import { dropNativeCall, startNativeCall, type NativeRequest } from './native-calls.js';

/** Why a pool refused or abandoned a call. */
export class PoolError extends Error {
  constructor(
    readonly kind: 'busy' | 'timeout' | 'closed' | 'failed' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'PoolError';
  }
}

export interface PoolOptions {
  /** Name for errors and logs (pam, nss). */
  name: string;
  /** Calls running at once, each on one of the addon's native threads. */
  threads: number;
  /** Calls allowed to wait for a thread; more are refused at once as busy. */
  maxQueue: number;
  /** A call not answered within this is rejected; its thread still counts against `threads` until the call returns. */
  timeoutMs: number;
  /** The addon; loaded on the first call when not given (tests pass a fake). */
  binding?: NativeBinding;
}

export interface NativePool {
  /**
   * Run one blocking native call off the event loop. Rejects with PoolError (busy, timeout, closed,
   * failed, and aborted when `signal` fires while the call still waits for a thread: a login whose
   * client has gone must not hold a place in the queue; a call already running runs to its end).
   */
  run<T>(req: NativeRequest, signal?: AbortSignal): Promise<T>;
  /** Calls running (a timed-out call until its thread returns) and waiting now; `threads` counts the running calls, each on a native thread. */
  stats(): { running: number; queued: number; threads: number; maxThreads: number };
  /** Refuse new calls and fail waiting ones as closed; running calls still answer or time out. */
  close(): Promise<void>;
}

interface Job {
  req: NativeRequest;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
  /** Stops listening for the caller's abort; run once the job is answered. */
  unlisten?: () => void;
  settled: boolean;
}

/**
 * Blocking PAM and NSS calls on native threads the addon keeps (native/unixid_native.cc), at most
 * `threads` calls at once: no V8 isolate per thread, and not the libuv pool, which crypto and fs
 * share. The addon reuses an idle thread for the next call, starts one only when none is idle (so
 * this bound is also the bound on its threads), and lets a thread idle for 30 s end. A bounded queue
 * in front means a storm of slow logins is refused quickly instead of piling up, and a hung call
 * (NSS behind a dead SSSD, a PAM module waiting on a network) times out for the caller while still
 * holding its place, so hung calls cannot multiply threads. (A call whose answer the addon could
 * not even allocate keeps its place for good; that needs the process to be out of memory.)
 */
export function createNativePool(options: PoolOptions): NativePool {
  const queue: Job[] = [];
  let running = 0;
  let closed = false;
  let binding = options.binding;

  /** Answer the caller once; a result arriving after a timeout is dropped here. */
  function answer(job: Job, err: Error | undefined, value?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    job.unlisten?.();
    if (err) job.reject(err);
    else job.resolve(value);
  }

  function start(job: Job): void {
    running++;
    let returned = false;
    const finish = (): boolean => {
      if (returned) return false;
      returned = true;
      running--;
      return true;
    };
    try {
      binding ??= loadBinding();
      startNativeCall(binding, job.req, (err, value) => {
        if (!finish()) return;
        answer(job, err === null ? undefined : new PoolError('failed', `${options.name}: ${err}`), value);
        pump();
      });
    } catch (err) {
      // Refused before any thread started (bad arguments, no addon, no thread to be had).
      dropNativeCall(job.req);
      finish();
      answer(job, new PoolError('failed', `${options.name}: ${(err as Error).message}`));
    }
  }

  function pump(): void {
    while (running < options.threads && queue.length > 0) start(queue.shift()!);
  }

  function unqueue(job: Job): void {
    const i = queue.indexOf(job);
    if (i < 0) return;
    queue.splice(i, 1);
    dropNativeCall(job.req);
  }

  return {
    run<T>(req: NativeRequest, signal?: AbortSignal) {
      if (signal?.aborted) {
        dropNativeCall(req);
        return Promise.reject(new PoolError('aborted', `${options.name}: the caller gave up before the call started`));
      }
      if (closed) {
        dropNativeCall(req);
        return Promise.reject(new PoolError('closed', `${options.name} pool is closed`));
      }
      if (running >= options.threads && queue.length >= options.maxQueue) {
        dropNativeCall(req);
        return Promise.reject(new PoolError('busy', `${options.name}: ${running} calls running and ${queue.length} waiting`));
      }
      return new Promise<T>((resolve, reject) => {
        const job: Job = { req, resolve: resolve as (v: unknown) => void, reject, settled: false };
        // Not unref'd: a caller still waiting keeps the process alive, for timeoutMs at most. The
        // addon's threads never do, so a call that never returns cannot hold the process after that.
        job.timer = setTimeout(() => {
          unqueue(job);
          answer(job, new PoolError('timeout', `${options.name}: no answer within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
        queue.push(job);
        pump();
        if (signal && !job.settled && queue.includes(job)) {
          // Only a call still waiting is dropped; one already on its thread runs to its end.
          const onAbort = () => {
            if (!queue.includes(job)) return;
            unqueue(job);
            answer(job, new PoolError('aborted', `${options.name}: the caller gave up while the call waited for a thread`));
          };
          signal.addEventListener('abort', onAbort, { once: true });
          job.unlisten = () => signal.removeEventListener('abort', onAbort);
        }
      });
    },
    stats() {
      return { running, queued: queue.length, threads: running, maxThreads: options.threads };
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) {
        dropNativeCall(job.req);
        answer(job, new PoolError('closed', `${options.name} pool is closed`));
      }
    },
  };
}
