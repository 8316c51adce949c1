import type { Adapter, AdapterPayload } from 'oidc-provider';
import { GRANT_MEMBER_MODELS, UID_INDEXED_MODEL, USER_CODE_INDEXED_MODEL, grantKey, hasIndexEntries, recordKey, ttlMillis, uidKey, userCodeKey } from './redis-keys.js';

export interface MemoryAdapterOptions {
  /** Clock in epoch milliseconds (tests move it forward). Default Date.now. */
  now?: () => number;
  /** How often, at most, a write sweeps out every expired entry. Default 60 s. */
  sweepIntervalMs?: number;
}

/** The adapter class plus a view of what it holds, for tests and debugging. */
export interface MemoryAdapterClass {
  new (name: string): Adapter;
  /** Every live key (same names as the Redis layout, no prefix) with its remaining milliseconds. */
  dump(): Array<{ key: string; ttlMs: number }>;
}

interface Expiring {
  expiresAt: number;
}
interface RecordEntry extends Expiring {
  // Stored as JSON so a caller mutating what it found cannot change the store, as with Redis.
  json: string;
  consumed?: number;
}
interface IndexEntry extends Expiring {
  id: string;
}
interface GrantEntry extends Expiring {
  members: Set<string>;
}

/**
 * An in-process oidc-provider adapter with the Redis adapter's semantics: every entry expires,
 * nothing is evicted early. State lives in the returned class, shared by all its instances.
 * For development and tests only: a restart loses everything and processes do not share it.
 * Methods never reject except upsert without a finite expiresIn (TypeError).
 */
export function createMemoryAdapterClass(options: MemoryAdapterOptions = {}): MemoryAdapterClass {
  const now = options.now ?? Date.now;
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  const records = new Map<string, RecordEntry>();
  const indexes = new Map<string, IndexEntry>();
  const grants = new Map<string, GrantEntry>();
  let lastSweep = now();

  // Reads drop what they find expired; a sweep on writes bounds what is never read again.
  function live<T extends Expiring>(map: Map<string, T>, key: string): T | undefined {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }

  function sweep(): void {
    const t = now();
    if (t - lastSweep < sweepIntervalMs) return;
    lastSweep = t;
    for (const map of [records, indexes, grants] as Array<Map<string, Expiring>>) {
      for (const [key, entry] of map) if (entry.expiresAt <= t) map.delete(key);
    }
  }

  function removeIndexIfPointsTo(key: string, id: string): void {
    if (live(indexes, key)?.id === id) indexes.delete(key);
  }

  return class MemoryAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    static dump(): Array<{ key: string; ttlMs: number }> {
      const t = now();
      const out: Array<{ key: string; ttlMs: number }> = [];
      for (const map of [records, indexes, grants] as Array<Map<string, Expiring>>) {
        for (const [key, entry] of map) if (entry.expiresAt > t) out.push({ key, ttlMs: entry.expiresAt - t });
      }
      return out;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const ttl = ttlMillis(this.#model, expiresIn);
      sweep();
      if (ttl <= 0) {
        // Already expired: storing it would only let it be found.
        await this.destroy(id);
        return;
      }
      const key = recordKey('', this.#model, id);
      const expiresAt = now() + ttl;
      records.set(key, { json: JSON.stringify(payload), expiresAt });
      if (this.#model === UID_INDEXED_MODEL && typeof payload.uid === 'string') {
        indexes.set(uidKey('', payload.uid), { id, expiresAt });
      }
      if (this.#model === USER_CODE_INDEXED_MODEL && typeof payload.userCode === 'string') {
        indexes.set(userCodeKey('', payload.userCode), { id, expiresAt });
      }
      if (GRANT_MEMBER_MODELS.has(this.#model) && typeof payload.grantId === 'string') {
        const gKey = grantKey('', payload.grantId);
        const grant = live(grants, gKey) ?? { members: new Set<string>(), expiresAt: 0 };
        grant.members.add(key);
        grant.expiresAt = Math.max(grant.expiresAt, expiresAt);
        grants.set(gKey, grant);
      }
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const entry = live(records, recordKey('', this.#model, id));
      if (!entry) return undefined;
      const payload = JSON.parse(entry.json) as AdapterPayload;
      if (entry.consumed !== undefined) payload.consumed = entry.consumed;
      return payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const entry = live(indexes, uidKey('', uid));
      if (!entry) return undefined;
      const found = await this.find(entry.id);
      // A stale index (the session was re-saved with another uid) must not answer.
      return found?.uid === uid ? found : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const entry = live(indexes, userCodeKey('', userCode));
      if (!entry) return undefined;
      const found = await this.find(entry.id);
      return found?.userCode === userCode ? found : undefined;
    }

    async consume(id: string): Promise<void> {
      // Only a live record is marked; a missing or expired one stays missing.
      const entry = live(records, recordKey('', this.#model, id));
      if (entry) entry.consumed = Math.floor(now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      const key = recordKey('', this.#model, id);
      const entry = live(records, key);
      records.delete(key);
      // As on Redis: a model without index entries is only its record.
      if (!entry || !hasIndexEntries(this.#model)) return;
      const payload = JSON.parse(entry.json) as AdapterPayload;
      if (this.#model === UID_INDEXED_MODEL && typeof payload.uid === 'string') removeIndexIfPointsTo(uidKey('', payload.uid), id);
      if (this.#model === USER_CODE_INDEXED_MODEL && typeof payload.userCode === 'string') removeIndexIfPointsTo(userCodeKey('', payload.userCode), id);
      if (GRANT_MEMBER_MODELS.has(this.#model) && typeof payload.grantId === 'string') {
        const gKey = grantKey('', payload.grantId);
        const grant = live(grants, gKey);
        grant?.members.delete(key);
        // Like a Redis set, an emptied member set disappears.
        if (grant?.members.size === 0) grants.delete(gKey);
      }
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const gKey = grantKey('', grantId);
      const grant = live(grants, gKey);
      grants.delete(gKey);
      // Index entries of the removed records are left to expire: lookups check they still match.
      for (const member of grant?.members ?? []) records.delete(member);
    }
  };
}
