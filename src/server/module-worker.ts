import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread on a module next to the caller: the compiled `.js`, or when unixid runs from
 * source (tests, `npm run dev`) the `.ts` through tsx, which a new thread must register first.
 * `moduleUrl` is given without an extension, e.g. `new URL('./webhook-worker', import.meta.url)`.
 */
export function startModuleWorker(moduleUrl: URL, callerUrl: string, options: WorkerOptions = {}): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const url = new URL(`${moduleUrl.href}${fromSource ? '.ts' : '.js'}`);
  if (!fromSource) return new Worker(url, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
