import { createLdapBackend } from '../../src/backends/ldap/ldap-backend.js';
import type { CredentialBackend } from '../../src/backends/types.js';
import { ldapSchema, type LdapConfig } from '../../src/config/sections/ldap.js';
import { createGroupFilter, type GroupFilter } from '../../src/directory/group-filter.js';
import type { Directory, UnixUser } from '../../src/directory/types.js';
import { BASE_DN, SERVICE_DN, SERVICE_PASSWORD } from '../harness/slapd.js';

/** Every password the LDAP tests use: none may ever appear in a log line. */
export const PASSWORDS = [
  'alice-password',
  'bob-password',
  'carol-password',
  'dave-password',
  'erin-password',
  'jdoe-password',
  'mallory-password',
  'dup-password',
  'locked-password',
  'expired-password',
  'reset-password',
  SERVICE_PASSWORD,
];


/** The config of the usual bind-search-bind setup, with `overrides` merged in (one level deep per section). */
export function ldapConfig(urls: string[], overrides: Record<string, unknown> = {}): LdapConfig {
  const base: Record<string, unknown> = {
    urls,
    allowInsecure: true,
    connectTimeoutMs: 2000,
    timeoutMs: 3000,
    healthCheckIntervalMs: 0,
    bind: { dn: SERVICE_DN, password: SERVICE_PASSWORD },
    userSearch: { baseDn: BASE_DN },
    groupSearch: { baseDn: `ou=groups,${BASE_DN}` },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const old = base[k];
    base[k] = v && typeof v === 'object' && !Array.isArray(v) && old && typeof old === 'object' ? { ...(old as object), ...(v as object) } : v;
  }
  return ldapSchema.parse(base);
}

/** A Directory that knows a fixed set of users and groups (the NSS seam, without NSS). */
export function fakeDirectory(groups: Record<string, string[]>, fail = false): Directory {
  return {
    async user(name) {
      if (fail) throw new Error('nss lookup timed out');
      if (!(name in groups)) return undefined;
      const user: UnixUser = { name, uid: 1, gid: 1, gecos: name, home: `/home/${name}`, shell: '/bin/sh' };
      return user;
    },
    async groups(user) {
      return groups[user.name] ?? [];
    },
    async close() {},
  };
}

export const noFilter: GroupFilter = createGroupFilter({ include: [], exclude: [], prefix: '' });

/** Builds backends and closes them all at the end of a suite. */
export function backendFactory(logger: Logger) {
  const made: CredentialBackend[] = [];
  return {
    make(
      ldap: LdapConfig,
      options: { groupSource?: 'nss' | 'ldap' | 'both'; directory?: Directory; groupFilter?: GroupFilter; logger?: Logger } = {},
    ): CredentialBackend {
      const backend = createLdapBackend({
        ldap,
        groupSource: options.groupSource ?? 'ldap',
        directory: options.directory ?? fakeDirectory({}),
        groupFilter: options.groupFilter ?? noFilter,
        logger: options.logger ?? logger,
      });
      made.push(backend);
      return backend;
    },
    async closeAll() {
      await Promise.all(made.map((b) => b.close()));
    },
  };
}

export const pw = (s: string): Buffer => Buffer.from(s, 'utf8');
