import type { Redis } from 'ioredis';
import { withDeadline } from '../deadline.js';
import { devicePollKey } from './redis-keys.js';

/*
 * RFC 8628 §3.5 for the device-code grant: a client polls the token endpoint no more often than
 * the interval of its device code. Each poll is recorded per code; one that arrives sooner than
 * the interval after the previous poll (less POLL_SLACK_MS of network jitter) is answered
 * slow_down, and the interval of that code grows by SLOW_DOWN_STEP_MS for every later poll. A
 * refused poll is a poll too: the next one is measured from it, so a client that keeps hammering
 * is never let through (as dex does), while one that adds 5 s per slow_down, as the RFC asks,
 * stays in step with the server.
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
  /** The interval this device code now requires, in ms (already grown when slowDown). */
  intervalMs: number;
}

/** Per-device-code polling discipline (RFC 8628 §3.5), shared by every replica on one store. */
export interface DevicePollGate {
  /** Records a poll of `deviceCode` now and says whether it came too soon. Rejects only when its store failed. */
  poll(deviceCode: string): Promise<PollVerdict>;
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

/**
 * The rule both gates apply (POLL_LUA is the same in Lua): the next record, the verdict and how
 * long the record must be kept. A record from a configuration with a longer interval keeps it.
 */
function decide(previous: PollRecord | undefined, now: number, limits: Limits): { record: PollRecord; verdict: PollVerdict; ttlMs: number } {
  let intervalMs = limits.baseMs;
  let slowDown = false;
  if (previous) {
    intervalMs = Math.max(previous.intervalMs, limits.baseMs);
    if (now - previous.last < intervalMs - POLL_SLACK_MS) {
      slowDown = true;
      intervalMs += SLOW_DOWN_STEP_MS;
    }
  }
  return { record: { last: now, intervalMs }, verdict: { slowDown, intervalMs }, ttlMs: intervalMs === limits.baseMs ? limits.baseMs : limits.keepMs };
}

// KEYS[1]: the poll record. ARGV: now, base interval, step, slack, keep (all ms).
// Returns {slowDown (0|1), interval ms}. Same rule as decide() above.
const POLL_LUA = `
  local now, base, step, slack, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local interval, slow = base, 0
  local last, recorded = string.match(redis.call('GET', KEYS[1]) or '', '^(%d+) (%d+)$')
  if last then
    interval = math.max(tonumber(recorded), base)
    if now - tonumber(last) < interval - slack then
      slow = 1
      interval = interval + step
    end
  end
  local ttl = keep
  if interval == base then ttl = base end
  redis.call('SET', KEYS[1], string.format('%d %d', now, interval), 'PX', ttl)
  return {slow, interval}`;

interface PollCommands {
  unixidDevicePoll(key: string, now: number, baseMs: number, stepMs: number, slackMs: number, keepMs: number): Promise<[number, number]>;
}

const DEFAULT_TIMEOUT_MS = 1000;

/**
 * The gate on Redis: one script call per poll, atomic, so replicas polled in turn see one record.
 * Rejects with an Error (its message never holds the device code) when Redis fails or does not
 * answer within timeoutMs (default 1000): the caller decides whether to let the poll through.
 * Throws a TypeError at construction on an interval below 1 s or not shorter than the lifetime.
 */
export function createRedisDevicePollGate(redis: Redis, options: DevicePollGateOptions & { keyPrefix: string; timeoutMs?: number }): DevicePollGate {
  const limits = limitsOf(options);
  if (!('unixidDevicePoll' in redis)) redis.defineCommand('unixidDevicePoll', { numberOfKeys: 1, lua: POLL_LUA });
  const commands = redis as unknown as PollCommands;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return {
    async poll(deviceCode) {
      const key = devicePollKey(options.keyPrefix, deviceCode);
      try {
        const [slow, intervalMs] = await withDeadline(
          commands.unixidDevicePoll(key, Math.floor(now()), limits.baseMs, SLOW_DOWN_STEP_MS, POLL_SLACK_MS, limits.keepMs),
          timeoutMs,
          'device poll gate',
        );
        return { slowDown: Number(slow) === 1, intervalMs: Number(intervalMs) };
      } catch (err) {
        // Only the message: an ioredis error may carry the command and its arguments.
        throw new Error(`device poll gate failed (redis ${redis.status}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    },
  };
}

/**
 * The gate in this process only, for a single replica without Redis (development, tests). Same
 * rule and lifetimes as the Redis gate; expired records are swept as time passes. Never rejects.
 * Throws a TypeError at construction on an interval below 1 s or not shorter than the lifetime.
 */
export function createMemoryDevicePollGate(options: DevicePollGateOptions): DevicePollGate {
  const limits = limitsOf(options);
  const now = options.now ?? Date.now;
  const records = new Map<string, PollRecord & { expiresAt: number }>();
  let nextSweep = 0;

  function sweep(t: number): void {
    if (t < nextSweep) return;
    for (const [key, r] of records) if (r.expiresAt <= t) records.delete(key);
    nextSweep = t + 10_000;
  }

  return {
    async poll(deviceCode) {
      const t = now();
      sweep(t);
      const key = devicePollKey('', deviceCode);
      const stored = records.get(key);
      const { record, verdict, ttlMs } = decide(stored && stored.expiresAt > t ? stored : undefined, t, limits);
      records.set(key, { ...record, expiresAt: t + ttlMs });
      return verdict;
    },
  };
}
