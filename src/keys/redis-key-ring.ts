import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AuditLog } from '../observability/audit.js';
import { toVerificationKey, type PrivateJwk } from './jwk.js';
import {
  createListeners,
  describeRing,
  epochSeconds,
  isDue,
  keySetOf,
  nextTransition,
  planMaintenance,
  type KeyRing,
  type KeySet,
  type KeyTimings,
  type MaintenancePlan,
  type StoredKey,
} from './key-ring.js';
import { generateSigningJwk } from './load-keys.js';

/*
 * Storage layout (private keys live here: protect Redis like a key file, with rediss:// and ACLs):
 *
 *   <prefix>keys:ring   hash { rev: <counter>, key:<kid>: <JSON StoredKey>, ... }
 *   <prefix>keys:lock   maintenance lock: a random token, SET NX PX (expires by itself)
 *
 * One hash holds the whole ring so that every change is one atomic single-key script, which also
 * runs on Redis Cluster; `rev` is bumped by every change, so replicas poll one small HGET and read
 * the keys only when it moved. A rev is random, not a counter, so a ring that was lost and
 * written again (Redis restarted without persistence) never repeats a rev a replica still holds. The ring has no TTL on purpose: under a volatile-* eviction policy a
 * TTL would make it evictable, and losing it would invalidate every token in flight. It stays small
 * because maintenance deletes keys past their removeAt.
 */

/** Key of the ring hash. */
export function ringKey(prefix: string): string {
  return `${prefix}keys:ring`;
}

/** Key of the maintenance lock. */
export function lockKey(prefix: string): string {
  return `${prefix}keys:lock`;
}

const REV = 'rev';
const FIELD = 'key:';

const SCRIPTS = {
  // Compare-and-swap on the whole ring: applies only if nobody changed it since it was read (so a
  // lock that expired mid-maintenance cannot make two replicas write), then sets a new rev.
  // ARGV: expected rev, new rev, number of (field, value) pairs to set, the pairs, then fields to delete.
  unixidKeysApply: `
    if (redis.call('HGET', KEYS[1], 'rev') or '0') ~= ARGV[1] then return 0 end
    local n = tonumber(ARGV[3])
    local i = 4
    for _ = 1, n do
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
      i = i + 2
    end
    while i <= #ARGV do
      redis.call('HDEL', KEYS[1], ARGV[i])
      i = i + 1
    end
    redis.call('HSET', KEYS[1], 'rev', ARGV[2])
    return 1`,
  unixidKeysUnlock: `
    if redis.call('GET', KEYS[1]) == ARGV[1] then
      return redis.call('DEL', KEYS[1])
    end
    return 0`,
} as const;

interface ScriptCommands {
  unixidKeysApply(key: string, ...args: Array<string | number>): Promise<number>;
  unixidKeysUnlock(key: string, token: string): Promise<number>;
}

const epoch = z.number().int().nonnegative();
const storedKeySchema = z.object({
  kid: z.string().min(1),
  jwk: z.looseObject({ kid: z.string().min(1), alg: z.string().min(1), kty: z.string().min(1) }),
  createdAt: epoch,
  activateAt: epoch,
  retireAt: epoch.optional(),
  removeAt: epoch.optional(),
});

/** A stored record, or why it cannot be used (including a JWK that is not a usable private key). */
function parseRecord(field: string, text: string): StoredKey {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${field}: not JSON`);
  }
  const parsed = storedKeySchema.safeParse(doc);
  if (!parsed.success) throw new Error(`${field}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const record = parsed.data as StoredKey;
  if (record.jwk.kid !== record.kid || field !== `${FIELD}${record.kid}`) throw new Error(`${field}: kid does not match`);
  toVerificationKey(record.jwk);
  return record;
}

/** The ring as read from Redis. */
export interface RingSnapshot {
  rev: string;
  keys: StoredKey[];
  /** Fields that could not be used (never deleted: a newer unixid may have written them), with why. */
  invalid: Array<{ field: string; problem: string }>;
}

/** Reads and writes of the ring hash and its lock; every method rejects with ioredis's error when Redis fails. */
export interface RingStore {
  /** The current revision ('0' for an empty ring). */
  rev(): Promise<string>;
  read(): Promise<RingSnapshot>;
  /** Write `put` and delete `remove` if the ring is still at `expectedRev`; resolves false when it moved. */
  apply(expectedRev: string, put: readonly StoredKey[], remove: readonly string[]): Promise<boolean>;
  /** Take the maintenance lock for `ms`; resolves its token, or undefined when another holder has it. */
  lock(ms: number): Promise<string | undefined>;
  /** Release the lock if `token` still holds it. */
  unlock(token: string): Promise<void>;
}

/** The ring stored under `prefix` in `redis`. Never throws; its methods reject on Redis errors. */
export function createRingStore(redis: Redis, prefix: string): RingStore {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 1, lua });
  }
  const scripts = redis as unknown as ScriptCommands;
  const ring = ringKey(prefix);
  const lock = lockKey(prefix);
  return {
    async rev() {
      return (await redis.hget(ring, REV)) ?? '0';
    },
    async read() {
      const all = await redis.hgetall(ring);
      const snapshot: RingSnapshot = { rev: all[REV] ?? '0', keys: [], invalid: [] };
      for (const [field, value] of Object.entries(all)) {
        if (field === REV) continue;
        try {
          snapshot.keys.push(parseRecord(field, value));
        } catch (err) {
          snapshot.invalid.push({ field, problem: (err as Error).message });
        }
      }
      return snapshot;
    },
    async apply(expectedRev, put, remove) {
      const pairs = put.flatMap((k) => [`${FIELD}${k.kid}`, JSON.stringify(k)]);
      const next = randomBytes(12).toString('base64url');
      const result = await scripts.unixidKeysApply(ring, expectedRev, next, put.length, ...pairs, ...remove.map((kid) => `${FIELD}${kid}`));
      return result !== 0;
    },
    async lock(ms) {
      const token = randomBytes(16).toString('base64url');
      return (await redis.set(lock, token, 'PX', ms, 'NX')) === 'OK' ? token : undefined;
    },
    async unlock(token) {
      await scripts.unixidKeysUnlock(lock, token);
    },
  };
}

/** What one maintenance attempt did. */
export interface MaintenanceResult {
  /** applied: written; idle: nothing was due; busy: another replica holds the lock; conflict: the ring moved under us. */
  outcome: 'applied' | 'idle' | 'busy' | 'conflict';
  plan?: MaintenancePlan;
  created?: StoredKey;
  /** The ring was empty and `reseed` was written back instead of a new key. */
  reseeded?: boolean;
}

export interface MaintenanceOptions {
  timings: KeyTimings;
  /** Epoch seconds. */
  now: () => number;
  generate?: () => Promise<PrivateJwk>;
  /** Create the next key now (still activating prepublishSeconds later). */
  rotate?: boolean;
  lockMs?: number;
  /**
   * Keys this replica still holds although the ring is empty (Redis lost it: restarted without
   * persistence, flushed). Written back instead of bootstrapping a key that would sign at once
   * without ever having been published, which kube-apiserver would not know until its JWKS cache expires.
   */
  reseed?: readonly StoredKey[];
}

/**
 * One maintenance run under the lock: re-reads the ring, then bootstraps, creates the next key or
 * removes expired ones as planMaintenance says, in one compare-and-swap write. Resolves `busy`
 * without waiting when another process holds the lock. Rejects on Redis errors or a failed key
 * generation (the lock is released either way, or expires).
 */
export async function maintainRing(store: RingStore, options: MaintenanceOptions): Promise<MaintenanceResult> {
  const token = await store.lock(options.lockMs ?? 30_000);
  if (!token) return { outcome: 'busy' };
  try {
    const { rev, keys } = await store.read();
    if (keys.length === 0 && options.reseed && options.reseed.length > 0) {
      return (await store.apply(rev, options.reseed, [])) ? { outcome: 'applied', reseeded: true } : { outcome: 'conflict' };
    }
    const now = options.now();
    const plan = planMaintenance(keys, now, options.timings, { rotate: options.rotate ?? false });
    if (!isDue(plan)) return { outcome: 'idle', plan };
    let created: StoredKey | undefined;
    if (plan.create) {
      const jwk = await (options.generate ?? generateSigningJwk)();
      created = { kid: jwk.kid, jwk, createdAt: now, activateAt: plan.create.activateAt };
    }
    const applied = await store.apply(rev, created ? [...plan.update, created] : plan.update, plan.remove);
    return applied ? { outcome: 'applied', plan, ...(created ? { created } : {}) } : { outcome: 'conflict', plan };
  } finally {
    await store.unlock(token).catch(() => {
      // It expires by itself.
    });
  }
}

export interface RedisKeyRingOptions {
  redis: Redis;
  keyPrefix: string;
  timings: KeyTimings;
  pollSeconds: number;
  logger: Logger;
  /** Millisecond clock (Date.now). */
  now?: () => number;
  generate?: () => Promise<PrivateJwk>;
  /** How long start-up waits for Redis and for a first key. Default 60000. */
  startupTimeoutMs?: number;
  lockMs?: number;
  audit?: Pick<AuditLog, 'event'>;
}

/**
 * The rotating ring shared by every replica through Redis. Resolves once the ring has a key: the
 * first replica to find it empty creates an active one under the lock, the others wait for it.
 * Rejects when that takes longer than startupTimeoutMs (Redis unreachable, or a ring whose keys
 * are all unusable). After start, each replica re-reads the ring every pollSeconds and at every
 * scheduled activation or removal, performs due maintenance when it wins the lock, and while
 * Redis is unreachable keeps the keys it has (their schedule still applies), logging once per outage.
 */
export async function createRedisKeyRing(options: RedisKeyRingOptions): Promise<KeyRing> {
  const { timings, logger } = options;
  const log = logger.child({ keyRing: 'redis' });
  const store = createRingStore(options.redis, options.keyPrefix);
  const clock = options.now ?? Date.now;
  const nowSeconds = () => epochSeconds(clock());
  const pollMs = options.pollSeconds * 1000;
  const listeners = createListeners((err) => log.error({ err }, 'a key-set listener failed'));
  const reportedInvalid = new Set<string>();

  let records: StoredKey[] = [];
  let rev: string | undefined;
  let set: KeySet | undefined;
  let redisDown = false;
  /** The ring vanished from Redis while this replica held keys: write them back. */
  let vanished = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  async function reload(): Promise<void> {
    const snapshot = await store.read();
    rev = snapshot.rev;
    if (snapshot.keys.length === 0 && records.length > 0) {
      // Keep signing with what we have; sync() writes it back.
      if (!vanished) log.warn({ ring: ringKey(options.keyPrefix) }, 'the signing key ring vanished from Redis: writing back the keys this replica holds');
      vanished = true;
      return;
    }
    vanished = false;
    records = snapshot.keys;
    for (const { field, problem } of snapshot.invalid) {
      if (reportedInvalid.has(problem)) continue;
      reportedInvalid.add(problem);
      log.error({ field, problem }, 'ignoring an unusable signing key stored in Redis');
    }
  }

  async function maintain(): Promise<MaintenanceResult> {
    const result = await maintainRing(store, {
      timings,
      now: nowSeconds,
      ...(vanished ? { reseed: records } : {}),
      ...(options.generate ? { generate: options.generate } : {}),
      ...(options.lockMs ? { lockMs: options.lockMs } : {}),
    });
    if (result.outcome === 'applied') {
      const { created, plan } = result;
      if (created) {
        const fields = { kid: created.kid, reason: plan?.create?.reason, activateAt: new Date(created.activateAt * 1000).toISOString() };
        log.info(fields, created.activateAt <= created.createdAt ? 'created the first signing key' : 'published the next signing key');
        options.audit?.event('key.rotated', { source: 'redis', ...fields });
      }
      if (plan && plan.remove.length > 0) log.info({ kids: plan.remove }, 'removed signing keys past their publish window');
      if (result.reseeded) log.warn({ kids: records.map((k) => k.kid) }, 'wrote the signing keys back into the empty ring');
    } else if (result.outcome === 'conflict') {
      log.warn('the key ring changed during maintenance; retrying on the next poll');
    }
    return result;
  }

  /** Talk to Redis: re-read when rev moved, maintain when something is due. Rejects on Redis errors. */
  async function sync(): Promise<void> {
    if ((await store.rev()) !== rev) await reload();
    if (vanished || isDue(planMaintenance(records, nowSeconds(), timings))) {
      const result = await maintain();
      if (result.outcome === 'applied') await reload();
    }
  }

  /** Recompute the set from the records and the clock; tell listeners when it changed. */
  function rebuild(): void {
    const states = describeRing(records, nowSeconds(), timings);
    if (states.length === 0) return;
    let next: KeySet;
    try {
      next = keySetOf(states);
    } catch (err) {
      log.error({ problem: (err as Error).message }, 'cannot build a key set from the ring: keeping the current one');
      return;
    }
    if (set && next.version === set.version) return;
    const previous = set;
    set = next;
    const kids = states.filter((s) => s.role !== 'expired').map((s) => `${s.kid}:${s.role}`);
    log.info({ active: next.signing[0]?.kid, keys: kids }, previous ? 'signing key set changed' : 'signing keys loaded from Redis');
    if (previous) listeners.emit(next);
  }

  async function tick(): Promise<void> {
    try {
      await sync();
      if (redisDown) log.info('the signing key ring is readable again');
      redisDown = false;
    } catch (err) {
      if (!redisDown) {
        log.warn({ problem: (err as Error).message }, 'cannot read the signing key ring from Redis: keeping the current keys (their schedule still applies)');
      }
      redisDown = true;
    }
    rebuild();
  }

  function schedule(): void {
    clearTimeout(timer);
    if (closed) return;
    let delay = pollMs;
    const transition = nextTransition(records, nowSeconds(), timings);
    // Switch at the scheduled second rather than at the next poll, so replicas switch together.
    if (transition !== undefined) delay = Math.min(delay, transition * 1000 - clock());
    timer = setTimeout(() => void run(), Math.max(delay, 20));
    timer.unref();
  }

  let chain: Promise<unknown> = Promise.resolve();
  function run(): Promise<KeySet> {
    const next = chain.then(tick).then(() => {
      schedule();
      return set!;
    });
    chain = next.catch(() => {});
    return next;
  }

  const deadline = Date.now() + (options.startupTimeoutMs ?? 60_000);
  let problem = 'Redis did not answer';
  for (;;) {
    try {
      await reload();
      if (records.length === 0) {
        const result = await maintain();
        if (result.outcome === 'applied') await reload();
        else problem = result.outcome === 'busy' ? 'another replica holds the key-ring lock and has not created a key' : 'the ring kept changing';
      }
      rebuild();
      if (set) break;
      if (records.length > 0) problem = 'no stored key is usable';
    } catch (err) {
      problem = (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(`no usable signing key in Redis (${ringKey(options.keyPrefix)}) after ${Math.round((options.startupTimeoutMs ?? 60_000) / 1000)} s: ${problem}`);
    }
    await sleep(250);
  }
  // Maintenance that fell due while no replica ran (a rotation, removals).
  await run();

  return {
    current: () => set!,
    onChange: (listener) => listeners.add(listener),
    refresh: () => (closed ? Promise.resolve(set!) : run()),
    async close() {
      closed = true;
      clearTimeout(timer);
      await chain;
    },
  };
}
