import type { AdapterPayload } from 'oidc-provider';
import { decorateAdapter, type AdapterClass } from '../store/decorate-adapter.js';

/**
 * Wrap an adapter class so that a refresh token consumed less than `graceSeconds` ago is still
 * accepted once more. kubectl runs in parallel (or a retry after a lost response) would otherwise
 * present a just-rotated refresh token, and oidc-provider revokes the whole grant on reuse.
 * Outside the grace window, reuse still revokes the grant.
 */
export function withRefreshReuseGrace(Base: AdapterClass, graceSeconds: number, now: () => number = Date.now): AdapterClass {
  if (graceSeconds <= 0) return Base;
  const withinGrace = (found: AdapterPayload | undefined): AdapterPayload | undefined => {
    if (!found || typeof found.consumed !== 'number') return found;
    const consumedAt = found.consumed > 1e12 ? found.consumed / 1000 : found.consumed;
    if (now() / 1000 - consumedAt > graceSeconds) return found;
    const { consumed: _consumed, ...rest } = found;
    return rest as AdapterPayload;
  };
  // Not an async function: every other call is handed through as it is, without a promise of its own.
  return decorateAdapter(Base, (method, model, call) =>
    method === 'find' && model === 'RefreshToken' ? call().then((found) => withinGrace(found as AdapterPayload | undefined)) : call(),
  );
}
