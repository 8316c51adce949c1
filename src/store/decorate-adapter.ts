import type { Adapter } from 'oidc-provider';

export type AdapterClass = new (name: string) => Adapter;

export type AdapterMethod = 'upsert' | 'find' | 'findByUserCode' | 'findByUid' | 'consume' | 'destroy' | 'revokeByGrantId';

const METHODS: readonly AdapterMethod[] = ['upsert', 'find', 'findByUserCode', 'findByUid', 'consume', 'destroy', 'revokeByGrantId'];

/**
 * Calls one method of the inner adapter. `model` is the adapter's model name (Session, Grant,
 * RefreshToken, ...). Whatever it resolves or rejects is what the caller of the adapter sees.
 */
export type AdapterAround = (method: AdapterMethod, model: string, call: () => Promise<unknown>) => Promise<unknown>;

/**
 * An adapter class whose every method runs through `around`: the one place that forwards the
 * seven oidc-provider adapter methods, so a decorator (timing, error mapping, refresh grace)
 * states only what it adds. A synchronous throw of the inner method becomes a rejection.
 */
export function decorateAdapter(Base: AdapterClass, around: AdapterAround): AdapterClass {
  class Decorated {
    readonly inner: Adapter;
    constructor(readonly model: string) {
      this.inner = new Base(model);
    }
  }
  for (const method of METHODS) {
    Object.defineProperty(Decorated.prototype, method, {
      value(this: { inner: Adapter; model: string }, ...args: unknown[]) {
        const inner = this.inner as unknown as Record<AdapterMethod, (...a: unknown[]) => Promise<unknown>>;
        // Called at once, not on the next tick: every store call of a login passes three of these
        // layers, and each deferred call cost two more promises (each seen by the async hooks).
        return around(method, this.model, () => {
          try {
            return Promise.resolve(inner[method].apply(this.inner, args));
          } catch (err) {
            return Promise.reject(err);
          }
        });
      },
    });
  }
  return Decorated as unknown as AdapterClass;
}
