import { DirectoryUnavailableError } from '../errors.js';
import type { NativePool } from '../native/native-pool.js';
import type { Directory, UnixUser } from './types.js';

export interface NssDirectoryOptions {
  pool: NativePool;
  /** How long answers are reused; 0 disables the cache. */
  cacheTtlSeconds: number;
  now?: () => number;
  /** Bound on cached entries, so a scan of random names cannot grow memory without limit. */
  maxEntries?: number;
}

interface Entry<T> {
  value: T;
  until: number;
}

/**
 * NSS through the native pool (getpwnam_r, getgrouplist), with a short TTL cache. Whatever
 * nsswitch.conf names answers: files, SSSD, nslcd — nested groups included when the NSS source
 * resolves them. Lookups that fail or time out reject with DirectoryUnavailableError.
 */
export function createNssDirectory(options: NssDirectoryOptions): Directory {
  const now = options.now ?? Date.now;
  const ttl = options.cacheTtlSeconds * 1000;
  const max = options.maxEntries ?? 10_000;
  const users = new Map<string, Entry<UnixUser | undefined>>();
  const groups = new Map<string, Entry<string[]>>();

  function cached<T>(map: Map<string, Entry<T>>, key: string): Entry<T> | undefined {
    const e = map.get(key);
    if (e && e.until > now()) return e;
    if (e) map.delete(key);
    return undefined;
  }

  function store<T>(map: Map<string, Entry<T>>, key: string, value: T): void {
    if (ttl <= 0) return;
    if (map.size >= max) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(key, { value, until: now() + ttl });
  }

  async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new DirectoryUnavailableError(`NSS ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  return {
    async user(name, opts) {
      if (!opts?.fresh) {
        const hit = cached(users, name);
        if (hit) return hit.value;
      }
      const lookUp = () => call(`user ${JSON.stringify(name)}`, () => options.pool.run<UnixUser | null>({ op: 'getUser', name }));
      // A fresh lookup is for an account that should exist (PAM has just accepted its password, or
      // a refresh re-checks one that logged in): a miss is first taken for a directory still
      // catching up (a cache being refreshed; nss_wrapper 1.1.12, in the tests, answers "no such
      // user" now and then to threads that ask at once) and asked once more.
      const found = (await lookUp()) ?? (opts?.fresh ? await lookUp() : null);
      const value = found ?? undefined;
      store(users, name, value);
      return value;
    },
    async groups(user, opts) {
      const key = `${user.name}\u0000${user.gid}`;
      if (!opts?.fresh) {
        const hit = cached(groups, key);
        if (hit) return [...hit.value];
      }
      const names = await call(`groups of ${JSON.stringify(user.name)}`, () => options.pool.run<string[]>({ op: 'getGroups', name: user.name, gid: user.gid }));
      const unique = [...new Set(names)];
      store(groups, key, unique);
      return [...unique];
    },
    close: () => options.pool.close(),
  };
}
