import type { Redis } from 'ioredis';
import { BackendUnavailableError } from '../errors.js';
import type { LoginGate } from '../web/login-gate.js';
import { createAllowList, throttleIp, usernameDigest } from './throttle-subject.js';
import { withDeadline } from '../deadline.js';

/*
 * Failed logins are counted per folded username and per address bucket (see throttle-subject.ts)
 * in a fixed window that starts at the first failure; reaching maxFailures bans that subject for
 * banSeconds. The counter outlives a ban that is shorter than its window, so one more failure
 * after such a ban bans again at once (as Authelia does: the window still holds N failures).
 *
 * Redis layout (every key has a TTL; usernames appear only as digests):
 *   <prefix>throttle:user:<sha256 base64url>      failures in the current window   (TTL: window)
 *   <prefix>throttle:ip:<address or v6 /64>       failures in the current window   (TTL: window)
 *   <prefix>throttle:ban:user:<sha256 base64url>  present while banned             (TTL: ban)
 *   <prefix>throttle:ban:ip:<address or v6 /64>   present while banned             (TTL: ban)
 *
 * Fail closed: when Redis cannot answer, every method rejects with ThrottleUnavailableError (a
 * BackendUnavailableError, so the login route answers 503 "temporarily unavailable"). Skipping the
 * throttle instead would turn a Redis outage into an unlimited guessing window.
 */

export interface ThrottleLimit {
  maxFailures: number;
  windowSeconds: number;
  banSeconds: number;
}

export interface ThrottleOptions {
  username: ThrottleLimit;
  ip: ThrottleLimit;
  /** IPs and CIDRs never IP-banned (their failures are not counted either). */
  allowList?: readonly string[];
  /** Told each time a failure starts a ban (audit events, metrics); what it throws is ignored. */
  onBan?: (event: BanEvent) => void;
}

/** A ban that a failure just started. */
export interface BanEvent {
  kind: 'username' | 'ip';
  /** The username as typed, or the address bucket (IPv4, or an IPv6 /64). */
  subject: string;
  failures: number;
  banSeconds: number;
}

/** Whose state to read or clear; at least one of the two. */
export interface ThrottleSubject {
  username?: string;
  ip?: string;
}

export interface ThrottleStatus {
  /** Failures in the current window (the larger of the two when both subjects are given). */
  failures: number;
  /** 0 when not banned. */
  bannedForSeconds: number;
}

export interface LoginThrottle extends LoginGate {
  /** Lifts the bans and clears the counters of the given subjects; true when a ban was lifted. */
  unban(subject: ThrottleSubject): Promise<boolean>;
  status(subject: ThrottleSubject): Promise<ThrottleStatus>;
}

/** The throttle could not reach its store; the caller answers 503 and must not try the password. */
export class ThrottleUnavailableError extends BackendUnavailableError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`login throttle: ${detail}`, options);
    this.name = 'ThrottleUnavailableError';
  }
}

/** The keys of one username or address: its failure counter and its ban marker. */
export interface ThrottleKeys {
  count: string;
  ban: string;
}

/** Keys of a username (any spelling that folds to the same name gives the same keys). Never throws. */
export function usernameKeys(prefix: string, username: string): ThrottleKeys {
  const digest = usernameDigest(username);
  return { count: `${prefix}throttle:user:${digest}`, ban: `${prefix}throttle:ban:user:${digest}` };
}

/** Keys of an address's bucket (its IPv4 form or its IPv6 /64). Never throws. */
export function ipKeys(prefix: string, ip: string): ThrottleKeys {
  const bucket = throttleIp(ip);
  return { count: `${prefix}throttle:ip:${bucket}`, ban: `${prefix}throttle:ban:ip:${bucket}` };
}

// KEYS: the username's failure counter, then ban markers. Returns {longest remaining ban in ms
// (0: none), whether the counter exists (0|1)}: a success needs no DEL when there was nothing to reset.
const CHECK_LUA = `
  local longest = 0
  for i = 2, #KEYS do
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl > longest then longest = ttl end
  end
  return {longest, redis.call('EXISTS', KEYS[1])}`;

// KEYS: count1, ban1[, count2, ban2]. ARGV: max, windowMs, banMs per pair.
// Returns {failures, bannedNow (0|1)} per pair. The window is armed when the counter has no TTL
// rather than with PEXPIRE NX, which needs Redis 7; it also re-arms a counter that somehow lost its
// TTL, so nothing here can live forever. SET NX keeps a running ban from being extended.
const FAILED_LUA = `
  local out = {}
  for i = 1, #KEYS / 2 do
    local count, ban = KEYS[2 * i - 1], KEYS[2 * i]
    local max, window, banMs = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
    local n = redis.call('INCR', count)
    if redis.call('PTTL', count) < 0 then redis.call('PEXPIRE', count, window) end
    local bannedNow = 0
    if n >= max and redis.call('SET', ban, '1', 'PX', banMs, 'NX') then bannedNow = 1 end
    out[#out + 1] = n
    out[#out + 1] = bannedNow
  end
  return out`;

/** One subject of a login attempt: what it is, its keys, and the limit that applies to it. */
interface Subject {
  kind: 'username' | 'ip';
  keys: ThrottleKeys;
  limit: ThrottleLimit;
}

/** The scripts as ioredis commands (numkeys passed first, since the pair count varies). */
interface ThrottleCommands {
  unixidThrottleCheck(numKeys: number, ...args: Array<string | number>): Promise<[number, number]>;
  unixidThrottleFailed(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
}

const DEFAULT_TIMEOUT_MS = 3000;

/**
 * The throttle on Redis, shared by every replica using the same Redis and keyPrefix. Each
 * check/failed/succeeded is one round trip (one script or command). Every method rejects with
 * ThrottleUnavailableError when Redis fails or does not answer within timeoutMs (default 3000; the
 * client's own commandTimeout and disabled offline queue usually make it sooner). Needs a single
 * Redis or a Sentinel-managed one: a call's keys span hash slots, which a Cluster refuses.
 * Throws a TypeError at construction on a bad allowList entry.
 */
export function createRedisLoginThrottle(redis: Redis, options: ThrottleOptions & { keyPrefix: string; timeoutMs?: number }): LoginThrottle {
  if (!('unixidThrottleCheck' in redis)) redis.defineCommand('unixidThrottleCheck', { lua: CHECK_LUA });
  if (!('unixidThrottleFailed' in redis)) redis.defineCommand('unixidThrottleFailed', { lua: FAILED_LUA });
  const commands = redis as unknown as ThrottleCommands;
  const allowed = createAllowList(options.allowList ?? []);
  const prefix = options.keyPrefix;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  /** Keys of the subjects a call concerns; an allow-listed address has none. */
  function subjects(username: string, ip: string): Subject[] {
    const out: Subject[] = [{ kind: 'username', keys: usernameKeys(prefix, username), limit: options.username }];
    if (!allowed(ip)) out.push({ kind: 'ip', keys: ipKeys(prefix, ip), limit: options.ip });
    return out;
  }

  async function call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(op(), timeoutMs, what);
    } catch (err) {
      // Only the message: an ioredis error may carry the command and its arguments.
      throw new ThrottleUnavailableError(`${what} failed (redis ${redis.status}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  return {
    async check(username, ip) {
      const keys = [usernameKeys(prefix, username).count, ...subjects(username, ip).map((s) => s.keys.ban)];
      const [ms = 0, counted = 0] = (await call('check', () => commands.unixidThrottleCheck(keys.length, ...keys))).map(Number);
      return ms > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) } : { allowed: true, counted: counted === 1 };
    },

    async failed(username, ip) {
      const list = subjects(username, ip);
      const keys = list.flatMap((s) => [s.keys.count, s.keys.ban]);
      const args = list.flatMap((s) => [s.limit.maxFailures, s.limit.windowSeconds * 1000, s.limit.banSeconds * 1000]);
      const reply = await call('failed', () => commands.unixidThrottleFailed(keys.length, ...keys, ...args));
      list.forEach((s, i) => {
        if (Number(reply[2 * i + 1]) === 1) notifyBan(options, banEvent(s, username, ip, Number(reply[2 * i])));
      });
    },

    async succeeded(username) {
      // Only the username: a success from a shared address (NAT, a proxy) must not wipe out the
      // failures others guessed from it.
      await call('succeeded', () => redis.del(usernameKeys(prefix, username).count));
    },

    async unban(subject) {
      const keys = explicitSubjects(subject, prefix);
      const [lifted] = await call('unban', async () =>
        transactionResults(
          await redis
            .multi()
            .del(...keys.map((k) => k.ban))
            .del(...keys.map((k) => k.count))
            .exec(),
        ),
      );
      return Number(lifted) > 0;
    },

    async status(subject) {
      const keys = explicitSubjects(subject, prefix);
      const multi = redis.multi();
      for (const k of keys) multi.get(k.count).pttl(k.ban);
      const results = await call('status', async () => transactionResults(await multi.exec()));
      let failures = 0;
      let bannedMs = 0;
      keys.forEach((_, i) => {
        failures = Math.max(failures, Number(results[2 * i] ?? 0));
        bannedMs = Math.max(bannedMs, Number(results[2 * i + 1]));
      });
      return { failures, bannedForSeconds: bannedMs > 0 ? Math.ceil(bannedMs / 1000) : 0 };
    },
  };
}

/**
 * The throttle in this process only: for a single replica without Redis (development, tests).
 * Same semantics as the Redis one; expired entries are swept as time passes, so memory stays
 * bounded by the failure rate times the longest window or ban. Never rejects. Throws a TypeError
 * at construction on a bad allowList entry.
 */
export function createMemoryLoginThrottle(options: ThrottleOptions & { now?: () => number }): LoginThrottle {
  const now = options.now ?? Date.now;
  const allowed = createAllowList(options.allowList ?? []);
  const counters = new Map<string, { failures: number; expiresAt: number }>();
  const bans = new Map<string, number>();
  let nextSweep = 0;

  function sweep(t: number): void {
    if (t < nextSweep) return;
    for (const [key, c] of counters) if (c.expiresAt <= t) counters.delete(key);
    for (const [key, until] of bans) if (until <= t) bans.delete(key);
    nextSweep = t + 10_000;
  }

  function subjects(username: string, ip: string): Subject[] {
    const out: Subject[] = [{ kind: 'username', keys: usernameKeys('', username), limit: options.username }];
    if (!allowed(ip)) out.push({ kind: 'ip', keys: ipKeys('', ip), limit: options.ip });
    return out;
  }

  const banLeft = (key: string, t: number) => Math.max(0, (bans.get(key) ?? 0) - t);
  const failuresOf = (key: string, t: number) => {
    const c = counters.get(key);
    return c && c.expiresAt > t ? c.failures : 0;
  };

  return {
    async check(username, ip) {
      const t = now();
      sweep(t);
      const ms = Math.max(0, ...subjects(username, ip).map((s) => banLeft(s.keys.ban, t)));
      return ms > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)) } : { allowed: true, counted: failuresOf(usernameKeys('', username).count, t) > 0 };
    },

    async failed(username, ip) {
      const t = now();
      sweep(t);
      for (const s of subjects(username, ip)) {
        const c = counters.get(s.keys.count);
        const current = c && c.expiresAt > t ? c : { failures: 0, expiresAt: t + s.limit.windowSeconds * 1000 };
        current.failures++;
        counters.set(s.keys.count, current);
        if (current.failures >= s.limit.maxFailures && banLeft(s.keys.ban, t) === 0) {
          bans.set(s.keys.ban, t + s.limit.banSeconds * 1000);
          notifyBan(options, banEvent(s, username, ip, current.failures));
        }
      }
    },

    async succeeded(username) {
      counters.delete(usernameKeys('', username).count);
    },

    async unban(subject) {
      const t = now();
      let lifted = false;
      for (const k of explicitSubjects(subject, '')) {
        if (banLeft(k.ban, t) > 0) lifted = true;
        bans.delete(k.ban);
        counters.delete(k.count);
      }
      return lifted;
    },

    async status(subject) {
      const t = now();
      const keys = explicitSubjects(subject, '');
      const failures = Math.max(0, ...keys.map((k) => failuresOf(k.count, t)));
      const bannedMs = Math.max(0, ...keys.map((k) => banLeft(k.ban, t)));
      return { failures, bannedForSeconds: Math.ceil(bannedMs / 1000) };
    },
  };
}

function notifyBan(options: ThrottleOptions, event: BanEvent): void {
  try {
    options.onBan?.(event);
  } catch {
    // An audit or metrics hook must not turn a counted failure into an error page.
  }
}

function banEvent(s: Subject, username: string, ip: string, failures: number): BanEvent {
  return { kind: s.kind, subject: s.kind === 'username' ? username : throttleIp(ip), failures, banSeconds: s.limit.banSeconds };
}

/** Keys named by an operator's subject (allowList does not apply: it asked about this address). */
function explicitSubjects(subject: ThrottleSubject, prefix: string): ThrottleKeys[] {
  const keys: ThrottleKeys[] = [];
  if (subject.username !== undefined) keys.push(usernameKeys(prefix, subject.username));
  if (subject.ip !== undefined) keys.push(ipKeys(prefix, subject.ip));
  if (keys.length === 0) throw new TypeError('a throttle subject needs a username or an ip');
  return keys;
}

/** The replies of a MULTI; rejects when it was aborted or one of its commands failed. */
function transactionResults(reply: Array<[Error | null, unknown]> | null): unknown[] {
  if (!reply) throw new Error('redis transaction was aborted');
  return reply.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
