import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';

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

/**
 * A request handler for whatever instance `ref` holds: oidc-provider's own (koa) handler, built
 * once per instance, so a key rotation swaps the instance under the same route.
 */
export function providerHandler(ref: ProviderRef): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
  return (req, res) => {
    const provider = ref.current;
    let handler = handlers.get(provider);
    if (!handler) {
      handler = provider.callback();
      handlers.set(provider, handler);
    }
    return handler(req, res);
  };
}
