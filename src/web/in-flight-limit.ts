import { createAllowList, throttleIp } from '../store/throttle-subject.js';

/**
 * How many password checks each source address has running or waiting on this replica. The
 * failure counters ban an address only once its failures come back, and with pam_unix's delay a
 * single address could meanwhile fill the whole PAM queue (256 places, 2 s each) with guesses and
 * make everyone else wait; a cap on what it may have in flight leaves the queue to the others.
 */
export interface InFlightLimit {
  /** Take a place for `ip`; false (and nothing taken) when it already holds all of its own. */
  acquire(ip: string): boolean;
  /** Give back a place taken by acquire. */
  release(ip: string): void;
}

/**
 * At most `max` checks per address (IPv6 per /64, as the throttle counts them); 0 turns the limit
 * off; allow-listed addresses (a NAT in front of a whole office) are never limited.
 */
export function createInFlightLimit(options: { max: number; allowList?: readonly string[] }): InFlightLimit {
  const allowed = createAllowList(options.allowList ?? []);
  const counts = new Map<string, number>();
  const exempt = (ip: string) => options.max === 0 || allowed(ip);
  return {
    acquire(ip) {
      if (exempt(ip)) return true;
      const key = throttleIp(ip);
      const n = counts.get(key) ?? 0;
      if (n >= options.max) return false;
      counts.set(key, n + 1);
      return true;
    },
    release(ip) {
      if (exempt(ip)) return;
      const key = throttleIp(ip);
      const n = counts.get(key) ?? 0;
      // Entries go when they reach zero, so the map holds only addresses with checks in flight.
      if (n <= 1) counts.delete(key);
      else counts.set(key, n - 1);
    },
  };
}
