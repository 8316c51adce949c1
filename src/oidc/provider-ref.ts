import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';
import type { ContextStorageGate } from './context-storage.js';

/**
 * The oidc-provider instance in force. oidc-provider takes its signing keys once, at
 * construction, so a key rotation builds a new instance and swaps it in here; every route reads
 * `current` per request, and requests already running finish on the instance they started with.
 * State lives in the store, not in the instance, so nothing is lost in the swap.
 */
export interface ProviderRef {
  readonly current: Provider;
}

/** A swappable reference; `swap` is for the composition root only. */
export function createProviderRef(initial: Provider): ProviderRef & { swap(next: Provider): void } {
  let current = initial;
  return {
    get current() {
      return current;
    },
    swap(next) {
      current = next;
    },
  };
}

/** Hands a request to oidc-provider; resolves when its koa app has answered it. */
export type ProviderHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * A request handler for whatever instance `ref` holds: oidc-provider's own (koa) handler, built
 * once per instance, so a key rotation swaps the instance under the same route. Every request
 * goes through `gate` (context-storage.ts). Build one for the process: express's fallback and the
 * direct routes share it, and with it the count of requests in flight.
 */
export function providerHandler(ref: ProviderRef, gate: ContextStorageGate): ProviderHandler {
  const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
  const handlerOf = (provider: Provider): ReturnType<Provider['callback']> => {
    let handler = handlers.get(provider);
    if (!handler) {
      handler = provider.callback();
      handlers.set(provider, handler);
    }
    return handler;
  };
  return (req, res) => {
    const handler = handlerOf(ref.current);
    return gate.around(() => handler(req, res));
  };
}
