import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, LoadResult, LoadSpec } from './load-spec.js';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));
/** Time allowed beyond the planned run (connection set-up, the last answers, the report). */
const GRACE_MS = 60_000;

export interface LoadHooks {
  /** Called when the recorded window starts (after warm-up): sample the server's CPU here. */
  onMeasuring?: () => void;
}

/**
 * Run `spec` from a second process (`node --import tsx bench/load-worker.ts`, JSON over IPC) so the
 * load generator's CPU is never the server's. Resolves its result; rejects when the worker fails,
 * exits early or overruns the planned time by a minute (it is killed then).
 */
export function runLoad(spec: LoadSpec, hooks: LoadHooks = {}): Promise<LoadResult> {
  const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const plannedMs = (spec.warmupSeconds + spec.mode.seconds) * 1000;
  return new Promise<LoadResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, result?: LoadResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.connected) child.disconnect();
      if (child.exitCode === null) child.kill('SIGTERM');
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => finish(new Error(`load worker overran ${plannedMs + GRACE_MS} ms`)), plannedMs + GRACE_MS);
    child.on('message', (msg: FromWorker) => {
      if (msg.type === 'measuring') hooks.onMeasuring?.();
      else if (msg.type === 'done') finish(undefined, msg.result);
      else if (msg.type === 'failed') finish(new Error(`load worker failed: ${msg.error}`));
    });
    child.once('error', (err) => finish(err));
    child.once('exit', (code, signal) => finish(new Error(`load worker exited (${code ?? signal}) before reporting`)));
    child.send({ type: 'run', spec });
  });
}
