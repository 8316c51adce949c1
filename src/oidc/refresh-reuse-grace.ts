import type { Adapter, AdapterPayload } from 'oidc-provider';

type AdapterClass = new (name: string) => Adapter;

/**
 * Wrap an adapter class so that a refresh token consumed less than `graceSeconds` ago is still
 * accepted once more. kubectl runs in parallel (or a retry after a lost response) would otherwise
 * present a just-rotated refresh token, and oidc-provider revokes the whole grant on reuse.
 * Outside the grace window, reuse still revokes the grant.
 */
export function withRefreshReuseGrace(Base: AdapterClass, graceSeconds: number, now: () => number = Date.now): AdapterClass {
  if (graceSeconds <= 0) return Base;
  return class GraceAdapter {
    readonly inner: Adapter;
    readonly name: string;
    constructor(name: string) {
      this.name = name;
      this.inner = new Base(name);
    }
    upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      return this.inner.upsert(id, payload, expiresIn);
    }
    async find(id: string) {
      const found = await this.inner.find(id);
      if (this.name !== 'RefreshToken' || !found || typeof found.consumed !== 'number') return found;
      const consumedAt = found.consumed > 1e12 ? found.consumed / 1000 : found.consumed;
      if (now() / 1000 - consumedAt > graceSeconds) return found;
      const { consumed: _consumed, ...rest } = found;
      return rest as AdapterPayload;
    }
    findByUserCode(userCode: string) {
      return this.inner.findByUserCode(userCode);
    }
    findByUid(uid: string) {
      return this.inner.findByUid(uid);
    }
    consume(id: string) {
      return this.inner.consume(id);
    }
    destroy(id: string) {
      return this.inner.destroy(id);
    }
    revokeByGrantId(grantId: string) {
      return this.inner.revokeByGrantId(grantId);
    }
  } as unknown as AdapterClass;
}
