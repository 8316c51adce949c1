/** One passwd entry, as NSS (or an LDAP posixAccount) describes it. */
export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  /** GECOS field; its first comma-separated part is the full name. */
  gecos: string;
  home: string;
  shell: string;
}

export interface LookupOptions {
  /** Skip the cache (refresh re-validation must see the directory as it is now), and ask twice before answering "no such user". */
  fresh?: boolean;
}

/**
 * Where accounts and group memberships are looked up. `user` resolves to undefined when the
 * account does not exist; both reject only when the lookup itself failed (timeout, NSS error).
 */
export interface Directory {
  user(name: string, options?: LookupOptions): Promise<UnixUser | undefined>;
  /** Names of the primary and supplementary groups of the user, unfiltered, de-duplicated. */
  groups(user: UnixUser, options?: LookupOptions): Promise<string[]>;
  close(): Promise<void>;
}

/** The full-name part of a GECOS field (before the first comma), or undefined when empty. */
export function gecosName(gecos: string): string | undefined {
  const name = gecos.split(',')[0]?.trim();
  return name ? name : undefined;
}
