import type { Adapter } from 'oidc-provider';

/** Whether the oidc-provider Grant a token was issued under still exists (logout, revocation and `unixid revoke` destroy it). */
export interface GrantLiveness {
  /** Resolves true when the grant exists and has not expired; rejects when the store cannot be reached. */
  isAlive(grantId: string): Promise<boolean>;
}

/**
 * Grant liveness read through the provider's own adapter, so it sees exactly what the provider
 * sees (Redis in production, memory in tests). Rejects when the adapter does.
 */
export function createGrantLiveness(Adapter: new (name: string) => Adapter, now: () => number = Date.now): GrantLiveness {
  const grants = new Adapter('Grant');
  return {
    async isAlive(grantId) {
      if (typeof grantId !== 'string' || grantId === '') return false;
      const payload = await grants.find(grantId);
      if (!payload) return false;
      // Stores expire records lazily or coarsely; the payload's own exp is authoritative.
      return typeof payload.exp !== 'number' || payload.exp * 1000 > now();
    },
  };
}
