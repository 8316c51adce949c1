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
