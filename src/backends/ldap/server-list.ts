/**
 * The configured LDAP servers in order of preference, with a short back-off for a server that
 * just failed: it is tried after the healthy ones until its back-off ends. When every server is
 * backed off they are all still tried (soonest-to-recover first), so a directory that comes back
 * is used at once instead of after the back-off.
 */
export interface ServerList {
  readonly urls: readonly string[];
  /** URLs in the order to try them now. */
  order(): string[];
  /** Record a failure (connection refused, timeout, TLS failure, server busy). */
  markDead(url: string): void;
  /** Record that the server answered. */
  markAlive(url: string): void;
  /** Whether `url` is in its back-off period. */
  isBackedOff(url: string): boolean;
}

/** Build the list; `now` is injectable for tests. Never throws. */
export function createServerList(urls: readonly string[], backoffMs: number, now: () => number = Date.now): ServerList {
  const deadUntil = new Map<string, number>();
  const isBackedOff = (url: string) => (deadUntil.get(url) ?? 0) > now();
  return {
    urls,
    order() {
      const healthy = urls.filter((u) => !isBackedOff(u));
      const backedOff = urls.filter(isBackedOff).sort((a, b) => (deadUntil.get(a) ?? 0) - (deadUntil.get(b) ?? 0));
      return [...healthy, ...backedOff];
    },
    markDead(url) {
      if (backoffMs > 0) deadUntil.set(url, now() + backoffMs);
    },
    markAlive(url) {
      deadUntil.delete(url);
    },
    isBackedOff,
  };
}
