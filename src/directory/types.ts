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

/**
 * Where accounts and group memberships are looked up. `user` resolves to undefined when the
 * account does not exist; both reject only when the lookup itself failed (timeout, NSS error).
 */
export interface Directory {
  user(name: string): Promise<UnixUser | undefined>;
  /** Names of the primary and supplementary groups of the user, unfiltered, de-duplicated. */
  groups(user: UnixUser): Promise<string[]>;
  close(): Promise<void>;
}
