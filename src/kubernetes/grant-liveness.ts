import type { Adapter } from 'oidc-provider';
import type { RevocationList } from '../oidc/revocations.js';

/** Whether the oidc-provider Grant a token was issued under still exists (logout and revocation destroy it). */
export interface GrantLiveness {
  /**
   * Resolves true when the grant exists and has not expired and, when `issued` is given, its subject
   * was not revoked by an administrator at or after `iat`; rejects when the store cannot be reached.
   */
  isAlive(grantId: string, issued?: { sub: string; iat: number }): Promise<boolean>;
}

/**
 * Grant liveness read through the provider's own adapter, so it sees exactly what the provider
 * sees (Redis in production, memory in tests). Rejects when the adapter does.
 */
export function createGrantLiveness(Adapter: new (name: string) => Adapter, now: () => number = Date.now, revocations?: RevocationList): GrantLiveness {
  const grants = new Adapter('Grant');
  return {
    async isAlive(grantId, issued) {
      if (typeof grantId !== 'string' || grantId === '') return false;
      if (issued && revocations && (await revocations.isRevoked(issued.sub, issued.iat))) return false;
      const payload = await grants.find(grantId);
      if (!payload) return false;
      // Stores expire records lazily or coarsely; the payload's own exp is authoritative.
      return typeof payload.exp !== 'number' || payload.exp * 1000 > now();
    },
  };
}
