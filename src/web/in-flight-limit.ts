import { createAllowList, throttleIp } from '../store/throttle-subject.js';

/**
 * How many password checks each source address has running or waiting on this replica. The
 * failure counters ban an address only once its failures come back, and with pam_unix's delay a
 * single address could meanwhile fill the whole PAM queue (256 places, 2 s each) with guesses and
 * make everyone else wait; a cap on what it may have in flight leaves the queue to the others.
 */
export interface InFlightLimit {
  /** Take a place for `ip`: resolves the function that gives it back, or undefined (nothing taken) when the address already holds all of its own. */
  acquire(ip: string): (() => void) | undefined;
}

const NOTHING_TAKEN = (): void => {};

/**
 * At most `max` checks per address (IPv6 per /64, as the throttle counts them); 0 turns the limit
 * off; allow-listed addresses (a NAT in front of a whole office) are never limited.
 */
export function createInFlightLimit(options: { max: number; allowList?: readonly string[] }): InFlightLimit {
  const allowed = createAllowList(options.allowList ?? []);
  const counts = new Map<string, number>();
  return {
    acquire(ip) {
      if (options.max === 0 || allowed(ip)) return NOTHING_TAKEN;
      const key = throttleIp(ip);
      const n = counts.get(key) ?? 0;
      if (n >= options.max) return undefined;
      counts.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        // Entries go when they reach zero, so the map holds only addresses with checks in flight.
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      };
    },
  };
}
