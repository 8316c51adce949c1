import type { Redis } from 'ioredis';
import { withDeadline } from '../deadline.js';
import { devicePollKey } from './redis-keys.js';

/*
 * RFC 8628 §3.5 for the device-code grant: a client polls the token endpoint no more often than
 * the interval of its device code. A poll that arrives sooner than the interval after the previous
 * poll (less POLL_SLACK_MS of network jitter) is answered slow_down, and the interval of that code
 * grows by SLOW_DOWN_STEP_MS for every later poll. A refused poll is a poll too: the next one is
 * measured from it, so a client that keeps hammering is never let through (as dex does), while one
 * that adds 5 s per slow_down, as the RFC asks, stays in step with the server.
 *
 * Records exist only for real, pending device codes. A poll is checked before oidc-provider sees
 * it, when neither the client nor the code is known yet, so the check writes nothing for a code
 * without a record: anyone can post made-up codes, and they must cost no store writes. A code gets
 * its record only after oidc-provider has authenticated the client, found the code, checked it
 * belongs to that client and answered authorization_pending (record()). From then on the check
 * counts every poll of the code and answers slow_down itself, writing only to that record.
 *
 * Redis layout (the code is a bearer secret: only its SHA-256 is stored, see redis-keys.ts):
 *   <prefix>devicePoll:<sha256 base64url>   "<last poll, epoch ms> <interval ms>"
 * A record that remembers nothing but the last poll is needed for one interval and lives that long;
 * once its interval has grown it lives for a device code's lifetime after each poll, by which time
 * the code it belongs to is gone. Every write sets a TTL, so nothing is kept without one.
 */

/** What RFC 8628 adds to the interval with each slow_down. */
export const SLOW_DOWN_STEP_MS = 5000;

/** How much sooner than the interval a poll may arrive and still count as on time (network jitter). */
export const POLL_SLACK_MS = 250;

/** The gate's answer to one poll. */
export interface PollVerdict {
  /** The poll came too soon: answer slow_down and do not ask the grant. */
  slowDown: boolean;
  /** The interval this device code now requires, in ms (already grown when slowDown; the base interval for a code without a record). */
  intervalMs: number;
}

/**
 * Per-device-code polling discipline (RFC 8628 §3.5), shared by every replica on one store. Both
 * methods reject only when the store failed (never with the device code in the message).
 */
export interface DevicePollGate {
  /**
   * Before the grant is asked, with nothing known about `deviceCode`: a code without a record goes
   * through and nothing is written. A code with a record has this poll counted (last poll = now):
   * too soon, it is slow_down and its interval grows.
   */
  check(deviceCode: string): Promise<PollVerdict>;
  /**
   * After oidc-provider answered the poll authorization_pending (or slow_down), i.e. `deviceCode` is
   * real, pending and the authenticated client's: its record says it was polled now, with the
   * interval it had (at least the base). This is the only way a record comes to exist.
   */
  record(deviceCode: string): Promise<void>;
}
export interface DevicePollGateOptions {
  /** The interval advertised with each device code, in seconds (at least 1). */
  intervalSeconds: number;
  /** The lifetime of a device code (tokens.deviceCodeSeconds): how long a grown interval is remembered after a poll. */
  codeLifetimeSeconds: number;
  /**
   * Epoch milliseconds. Each replica uses its own clock, so replicas are assumed NTP-synchronised;
   * skew between them eats into POLL_SLACK_MS.
   */
  now?: () => number;
}

/** The parts of a poll record, in ms. */
interface PollRecord {
  last: number;
  intervalMs: number;
}

interface Limits {
  baseMs: number;
  keepMs: number;
}

function limitsOf(options: DevicePollGateOptions): Limits {
  const { intervalSeconds, codeLifetimeSeconds } = options;
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1) throw new TypeError(`device poll interval must be a whole number of seconds ≥ 1, not ${intervalSeconds}`);
  if (!(codeLifetimeSeconds > intervalSeconds)) throw new TypeError(`a device code's lifetime (${codeLifetimeSeconds} s) must exceed its poll interval (${intervalSeconds} s)`);
  return { baseMs: intervalSeconds * 1000, keepMs: codeLifetimeSeconds * 1000 };
}

/** How long a record must be kept after a poll: one interval while it is the base one, a code lifetime once grown. */
function ttlOf(intervalMs: number, limits: Limits): number {
  return intervalMs === limits.baseMs ? limits.baseMs : limits.keepMs;
}

/**
 * check() on a code that has a record (CHECK_LUA is the same rule in Lua): the poll is counted, and
 * one too soon grows the interval. A record from a configuration with a longer interval keeps it.
 */
function checked(previous: PollRecord, now: number, limits: Limits): { record: PollRecord; verdict: PollVerdict } {
  let intervalMs = Math.max(previous.intervalMs, limits.baseMs);
  const slowDown = now - previous.last < intervalMs - POLL_SLACK_MS;
  if (slowDown) intervalMs += SLOW_DOWN_STEP_MS;
  return { record: { last: now, intervalMs }, verdict: { slowDown, intervalMs } };
}

/** record() (RECORD_LUA is the same rule in Lua): polled now, at the interval the code already had. */
function recorded(previous: PollRecord | undefined, now: number, limits: Limits): PollRecord {
  return { last: now, intervalMs: Math.max(previous?.intervalMs ?? limits.baseMs, limits.baseMs) };
}

// KEYS[1]: the poll record. ARGV: now, base interval, step, slack, keep (all ms).
// Returns {slowDown (0|1), interval ms}. No record: {0, base} and nothing written. Same rule as checked().
const CHECK_LUA = `
  local now, base, step, slack, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local last, recorded = string.match(redis.call('GET', KEYS[1]) or '', '^(%d+) (%d+)$')
  if not last then return {0, base} end
  local interval, slow = math.max(tonumber(recorded), base), 0
  if now - tonumber(last) < interval - slack then
    slow = 1
    interval = interval + step
  end
  local ttl = keep
  if interval == base then ttl = base end
  redis.call('SET', KEYS[1], string.format('%d %d', now, interval), 'PX', ttl)
  return {slow, interval}`;

// KEYS[1]: the poll record. ARGV: now, base interval, keep (all ms). Returns the interval ms.
// Same rule as recorded().
const RECORD_LUA = `
  local now, base, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
  local recorded = string.match(redis.call('GET', KEYS[1]) or '', '^%d+ (%d+)$')
  local interval = base
  if recorded then interval = math.max(tonumber(recorded), base) end
  local ttl = keep
  if interval == base then ttl = base end
  redis.call('SET', KEYS[1], string.format('%d %d', now, interval), 'PX', ttl)
  return interval`;

interface PollCommands {
  unixidDevicePollCheck(key: string, now: number, baseMs: number, stepMs: number, slackMs: number, keepMs: number): Promise<[number, number]>;
  unixidDevicePollRecord(key: string, now: number, baseMs: number, keepMs: number): Promise<number>;
}

const DEFAULT_TIMEOUT_MS = 1000;

/**
 * The gate on Redis: one script call per check or record, atomic, so replicas polled in turn see
 * one record. Rejects with an Error (its message never holds the device code) when Redis fails or
 * does not answer within timeoutMs (default 1000): the caller decides whether to let the poll
 * through. Throws a TypeError at construction on an interval below 1 s or not shorter than the lifetime.
 */
export function createRedisDevicePollGate(redis: Redis, options: DevicePollGateOptions & { keyPrefix: string; timeoutMs?: number }): DevicePollGate {
  const limits = limitsOf(options);
  if (!('unixidDevicePollCheck' in redis)) redis.defineCommand('unixidDevicePollCheck', { numberOfKeys: 1, lua: CHECK_LUA });
  if (!('unixidDevicePollRecord' in redis)) redis.defineCommand('unixidDevicePollRecord', { numberOfKeys: 1, lua: RECORD_LUA });
  const commands = redis as unknown as PollCommands;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function run<T>(script: Promise<T>): Promise<T> {
    try {
      return await withDeadline(script, timeoutMs, 'device poll gate');
    } catch (err) {
      // Only the message: an ioredis error may carry the command and its arguments.
      throw new Error(`device poll gate failed (redis ${redis.status}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  return {
    async check(deviceCode) {
      const key = devicePollKey(options.keyPrefix, deviceCode);
      const [slow, intervalMs] = await run(commands.unixidDevicePollCheck(key, Math.floor(now()), limits.baseMs, SLOW_DOWN_STEP_MS, POLL_SLACK_MS, limits.keepMs));
      return { slowDown: Number(slow) === 1, intervalMs: Number(intervalMs) };
    },
    async record(deviceCode) {
      const key = devicePollKey(options.keyPrefix, deviceCode);
      await run(commands.unixidDevicePollRecord(key, Math.floor(now()), limits.baseMs, limits.keepMs));
    },
  };
}

/** The memory gate, which can also say how many records it holds. */
export interface MemoryDevicePollGate extends DevicePollGate {
  /** Records held now, expired ones not yet swept included (tests: made-up codes add none). */
  size(): number;
}

/**
 * The gate in this process only, for a single replica without Redis (development, tests). Same
 * rule and lifetimes as the Redis gate (check() adds no entry either); expired records are swept
 * as time passes. Never rejects. Throws a TypeError at construction on an interval below 1 s or
 * not shorter than the lifetime.
 */
export function createMemoryDevicePollGate(options: DevicePollGateOptions): MemoryDevicePollGate {
  const limits = limitsOf(options);
  const now = options.now ?? Date.now;
  const records = new Map<string, PollRecord & { expiresAt: number }>();
  let nextSweep = 0;

  function sweep(t: number): void {
    if (t < nextSweep) return;
    for (const [key, r] of records) if (r.expiresAt <= t) records.delete(key);
    nextSweep = t + 10_000;
  }

  /** The live record of `key` at `t`, if any. */
  function live(key: string, t: number): PollRecord | undefined {
    const stored = records.get(key);
    return stored && stored.expiresAt > t ? stored : undefined;
  }

  function keep(key: string, record: PollRecord, t: number): void {
    records.set(key, { ...record, expiresAt: t + ttlOf(record.intervalMs, limits) });
  }

  return {
    async check(deviceCode) {
      const t = now();
      sweep(t);
      const key = devicePollKey('', deviceCode);
      const previous = live(key, t);
      if (!previous) return { slowDown: false, intervalMs: limits.baseMs };
      const { record, verdict } = checked(previous, t, limits);
      keep(key, record, t);
      return verdict;
    },
    async record(deviceCode) {
      const t = now();
      sweep(t);
      const key = devicePollKey('', deviceCode);
      keep(key, recorded(live(key, t), t, limits), t);
    },
    size: () => records.size,
  };
}
