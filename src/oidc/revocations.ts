import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * Admin revocation of a person (`unixid revoke USER`): everything issued to a subject at or before
 * the revocation time is dead — sessions, refresh tokens, codes and, at the webhook with
 * revocation checking on, ID tokens. Later logins work again. Kept in the shared store, so every
 * replica sees it at once.
 */
export interface RevocationList {
  /** Mark every token of `subject` issued at or before `atSeconds` as revoked. Rejects when the store is unreachable. */
  revoke(subject: string, atSeconds: number): Promise<void>;
  /** True when something issued at `issuedAtSeconds` to `subject` has been revoked since. Rejects when the store is unreachable. */
  isRevoked(subject: string, issuedAtSeconds: number): Promise<boolean>;
}

/** A RevocationList in the oidc-provider adapter (model `Revocation`), kept as long as any token may live. */
export function createRevocationList(Adapter: new (name: string) => Adapter, ttlSeconds: number): RevocationList {
  const store = new Adapter('Revocation');
  return {
    async revoke(subject, atSeconds) {
      await store.upsert(subject, { revokedAt: atSeconds } as unknown as AdapterPayload, ttlSeconds);
    },
    async isRevoked(subject, issuedAtSeconds) {
      const found = (await store.find(subject)) as unknown as { revokedAt?: number } | undefined;
      return typeof found?.revokedAt === 'number' && issuedAtSeconds <= found.revokedAt;
    },
  };
}
