import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { AccountRef } from '../identity.js';

/** Remembers, by subject, which backend account a subject belongs to, for refresh re-validation. */
export interface AccountStore {
  /** Record (or renew) an account for ttlSeconds. Rejects when the store is unreachable. */
  save(ref: AccountRef, ttlSeconds: number): Promise<void>;
  /** The account for a subject, or undefined when unknown or expired. */
  find(subject: string): Promise<AccountRef | undefined>;
  /** Forget an account (admin revoke). */
  remove(subject: string): Promise<void>;
  /** Subjects that logged in under a login name (several when a name was reused). */
  subjectsOf(username: string): Promise<string[]>;
}

/** An AccountStore kept in the same adapter (Redis or memory) as oidc-provider's models. */
export function createAccountStore(Adapter: new (name: string) => Adapter): AccountStore {
  const adapter = new Adapter('Account');
  // Login name -> subjects, so an operator can revoke by the name they know.
  const byName = new Adapter('AccountName');
  return {
    async save(ref, ttlSeconds) {
      // Nested: a top-level `uid` would be taken for oidc-provider's interaction uid index.
      // The name's list is read while the account is written (two independent keys): one wait, not two.
      const [, found] = await Promise.all([
        adapter.upsert(ref.subject, { account: { ...ref } } as unknown as AdapterPayload, ttlSeconds),
        byName.find(ref.username),
      ]);
      const known = (found as unknown as { subjects?: string[] } | undefined)?.subjects ?? [];
      const subjects = known.includes(ref.subject) ? known : [...known, ref.subject].slice(-16);
      await byName.upsert(ref.username, { subjects } as unknown as AdapterPayload, ttlSeconds);
    },
    async find(subject) {
      const found = ((await adapter.find(subject)) as unknown as { account?: AccountRef } | undefined)?.account;
      if (!found || typeof found.username !== 'string' || typeof found.backend !== 'string') return undefined;
      return found;
    },
    async remove(subject) {
      await adapter.destroy(subject);
    },
    async subjectsOf(username) {
      const found = (await byName.find(username)) as unknown as { subjects?: unknown } | undefined;
      return Array.isArray(found?.subjects) ? found.subjects.filter((s): s is string => typeof s === 'string') : [];
    },
  };
}
