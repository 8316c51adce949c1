import { hash as cryptoHash } from 'node:crypto';
import { createRecentKeys } from './recent-keys.js';

/** What the cache needs of a result: when it expires (seconds since the epoch, as a JWT's `exp`). */
export interface Expiring {
  readonly exp: number;
}

/**
 * Results of successful verifications, bounded and kept until they expire. A token is cached on
 * its second sight, not its first: most tokens reach the webhook once per kube-apiserver cache
 * period, and a result that is never read again is pure cost on a miss (it outlives hundreds of
 * requests, so the garbage collector copies and promotes it before it is evicted).
 */
export interface VerifiedTokenCache<T extends Expiring> {
  /**
   * The result cached for exactly this token, when it has not expired at `nowMs` and is still
   * `usable`; it becomes the most recently used. An entry that is neither is dropped.
   */
  lookup(token: string, nowMs: number): T | undefined;
  /** Called after a successful verification of `token`: cached if the token was seen before, noted if not. */
  admit(token: string, result: T): void;
}

export interface VerifiedTokenCacheOptions<T> {
  /** Entries cached, and first sights remembered; 0 gives a cache that never holds anything. */
  maxEntries: number;
  /** Whether a cached result may still be served (unixid's: its signing key is still published). */
  usable(result: T): boolean;
  /** Milliseconds since the epoch. */
  now: () => number;
}

/** A full sweep for expired entries runs at most this often; otherwise the oldest entry goes. */
const SWEEP_INTERVAL_MS = 1000;
/**
 * Entries are indexed by this many of a token's last characters (the end of its signature), and
 * an entry answers only when the whole token's SHA-256 matches too; so a miss, the common case,
 * costs no hashing. Twelve base64url characters are at least 68 bits of a signature, and a copy:
 * V8 makes substrings shorter than 13 characters as copies rather than views, so an index kept
 * here never keeps the token's kilobyte alive.
 */
const INDEX_CHARS = 12;

/**
 * The admission filter's key for a token: FNV-1a over the same last characters, read in place
 * (no substring). A new token shares its key with one of the remembered first sights with odds
 * of their number in 2^32; it is then cached at its first sight instead of its second, which is
 * just as correct (only verified tokens are admitted, and a hit still needs the whole digest).
 */
function sightKey(token: string): number {
  let h = 0x811c9dc5;
  for (let i = Math.max(0, token.length - INDEX_CHARS); i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
  return h | 0;
}

// crypto.hash: one call, no Hash object (a third cheaper than createHash for a token's length).
// A digest, not the token, is kept: the token would keep a kilobyte per entry alive.
const digestOf = (token: string): string => cryptoHash('sha256', token, 'base64url');

const NO_CACHE: VerifiedTokenCache<never> = { lookup: () => undefined, admit: () => {} };

export function createVerifiedTokenCache<T extends Expiring>(options: VerifiedTokenCacheOptions<T>): VerifiedTokenCache<T> {
  const maxEntries = Math.max(0, Math.floor(options.maxEntries));
  if (maxEntries === 0) return NO_CACHE;
  const { usable, now } = options;
  /** A cached result and the SHA-256 of the whole token it belongs to (the index is only its tail). */
  interface Entry {
    readonly digest: string;
    readonly result: T;
  }
  // By index. A Map iterates in insertion order; re-inserting on a hit keeps it least-recently-used first.
  const entries = new Map<string, Entry>();
  let lastSweep = 0;
  // The admission filter: the last maxEntries first sights, by sightKey. A token stays noted after
  // it is cached, until newer first sights push it out; if it is evicted from the cache meanwhile,
  // its next review caches it again at once.
  const firstSights = createRecentKeys(maxEntries);

  function store(index: string, entry: Entry): void {
    if (entries.size >= maxEntries) {
      const t = now();
      if (t - lastSweep >= SWEEP_INTERVAL_MS) {
        lastSweep = t;
        for (const [i, e] of entries) if (e.result.exp * 1000 <= t) entries.delete(i);
      }
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    }
    entries.set(index, entry);
  }

  return {
    lookup(token, nowMs) {
      const index = token.slice(-INDEX_CHARS);
      const entry = entries.get(index);
      // Another token with the same tail (made up, or one in 2^68) is a miss and leaves the entry be.
      if (entry === undefined || entry.digest !== digestOf(token)) return undefined;
      entries.delete(index);
      if (nowMs >= entry.result.exp * 1000 || !usable(entry.result)) return undefined;
      entries.set(index, entry);
      return entry.result;
    },
    admit(token, result) {
      // A first sight is only noted; a token noted before is cached.
      if (firstSights.add(sightKey(token))) return;
      store(token.slice(-INDEX_CHARS), { digest: digestOf(token), result });
    },
  };
}
