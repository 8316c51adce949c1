import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadHooks } from '../load.js';
import type { FromWorker, LoadResult } from '../load-spec.js';
import type { LoopRun } from './op-loop.js';

/** A baseline running as its own process: an HTTP server (`url`) or an operation loop (`run`). */
export interface BaselineProcess {
  pid: number;
  /** For HTTP baselines: http://127.0.0.1:PORT. */
  url: string;
  /** For loop baselines: run the loop once and resolve its result (hooks as for runLoad). */
  run(params: Omit<LoopRun, 'type'>, hooks?: LoadHooks): Promise<LoadResult>;
  stop(): Promise<void>;
}

type Ready = { type: 'listening'; port: number } | { type: 'ready' } | FromWorker;

/**
 * Fork `bench/baselines/<file>` (with tsx) with `env` added, and resolve once it says it is
 * listening or ready. Rejects with its failure when it dies or does not come up in 20 s.
 */
export function startBaseline(file: string, env: Record<string, string> = {}): Promise<BaselineProcess> {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const child: ChildProcess = fork(path, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<BaselineProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`baseline ${file} did not start within 20 s`));
    }, 20_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`baseline ${file} exited (${code}) at start`));
    };
    child.once('exit', onExit);
    const onMessage = (msg: Ready) => {
      if (msg.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`baseline ${file} failed: ${msg.error}`));
        return;
      }
      if (msg.type !== 'listening' && msg.type !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve({
        pid: child.pid!,
        url: msg.type === 'listening' ? `http://127.0.0.1:${msg.port}` : '',
        run: (params, hooks = {}) =>
          new Promise<LoadResult>((res, rej) => {
            const overrun = setTimeout(() => {
              child.off('message', onRun);
              void stop();
              rej(new Error(`baseline ${file} overran its run`));
            }, (params.warmupSeconds + params.seconds) * 1000 + 60_000);
            const onRun = (m: FromWorker) => {
              if (m.type === 'measuring') return hooks.onMeasuring?.();
              clearTimeout(overrun);
              child.off('message', onRun);
              if (m.type === 'done') res(m.result);
              else rej(new Error(`baseline ${file} failed: ${m.error}`));
            };
            child.on('message', onRun);
            child.send({ type: 'run', ...params } satisfies LoopRun);
          }),
        stop,
      });
    };
    child.on('message', onMessage);
  });
}
