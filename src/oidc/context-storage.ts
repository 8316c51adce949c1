import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * oidc-provider keeps each request's koa context in an AsyncLocalStorage of its own
 * (`lib/helpers/als.js`), entered at every request it routes. On Node 20 an AsyncLocalStorage,
 * once entered, turns on an async_hooks init hook for the whole process until it is disabled:
 * every timer, tick, socket write and promise of every request pays a call into it, the
 * TokenReview webhook's too (≈ 3 µs of its ≈ 90 µs per cache miss). The storage is needed only
 * while a request is inside oidc-provider. The gate counts those requests and disables the
 * storage when the last one ends; oidc-provider's next request enters it again, as its first did.
 */
export interface ContextStorageGate {
  /** Run one request through oidc-provider (`run` returns the handler's promise). */
  around<T>(run: () => Promise<T>): Promise<T>;
}

/** The gate for `storage`; without one (another oidc-provider layout) it only runs the request. */
export function contextStorageGate(storage: { disable(): void } | undefined): ContextStorageGate {
  if (!storage) return { around: (run) => run() };
  let inFlight = 0;
  const leave = (): void => {
    if (--inFlight === 0) storage.disable();
  };
  return {
    around<T>(run: () => Promise<T>): Promise<T> {
      inFlight++;
      let running: Promise<T>;
      try {
        running = run();
      } catch (err) {
        leave();
        throw err;
      }
      return running.finally(leave);
    },
  };
}

// A variable, so that TypeScript does not look for types of a module oidc-provider does not document.
const STORAGE_MODULE = 'oidc-provider/lib/helpers/als.js';

/**
 * oidc-provider's context storage, or undefined when the installed version keeps it elsewhere
 * (then nothing is gated, and unixid is as correct and a little slower).
 */
export async function providerContextStorage(): Promise<AsyncLocalStorage<unknown> | undefined> {
  try {
    const mod = (await import(STORAGE_MODULE)) as { default?: unknown };
    return mod.default instanceof AsyncLocalStorage ? (mod.default as AsyncLocalStorage<unknown>) : undefined;
  } catch {
    return undefined;
  }
}
