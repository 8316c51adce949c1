import type { Entry, Filter } from 'ldapts';
import type { Logger } from 'pino';
import type { LdapConfig } from '../../config/sections/ldap.js';
import { BackendUnavailableError } from '../../errors.js';
import { normalizeDn } from './dn.js';
import { firstOf } from './entry.js';
import { directoryAccessFrom } from './failover.js';
import { anyOf, fillFilter } from './filter.js';
import { describeError } from './ldap-errors.js';
import { createServiceConnection, type Searcher, type ServiceConnection } from './service-connection.js';
import { createUserLookup } from './user-search.js';

/** How many group DNs go into one nested-membership search, so filters stay a sane size. */
const NESTED_BATCH = 50;

/** Whom to find groups for. */
export interface GroupMember {
  username: string;
  /** The user's entry DN; needed for member/uniqueMember filters. */
  dn: string;
}

/**
 * Names of the groups `member` belongs to according to `groupSearch`: the groups the filter finds
 * directly, then, when `nested` is set, the groups containing those, up to `maxDepth` levels.
 * Every group DN is visited once, so membership cycles end. Names are de-duplicated, unfiltered.
 * Rejects with whatever the searcher rejects with.
 */
export async function searchGroups(searcher: Searcher, groupSearch: LdapConfig['groupSearch'], member: GroupMember, logger: Logger): Promise<string[]> {
  const names = new Set<string>();
  const visited = new Set<string>();
  const search = async (filter: Filter): Promise<Entry[]> =>
    (
      await searcher.search(groupSearch.baseDn, {
        scope: groupSearch.scope,
        filter,
        attributes: [groupSearch.nameAttribute],
        derefAliases: 'never',
        // Servers cap unpaged results (OpenLDAP 500, AD 1000 by default); paging gets every group.
        paged: { pageSize: 500 },
      })
    ).searchEntries;
  const take = (entries: Entry[]): string[] => {
    const fresh: string[] = [];
    for (const entry of entries) {
      const key = normalizeDn(entry.dn);
      if (visited.has(key)) continue;
      visited.add(key);
      const name = firstOf(entry, groupSearch.nameAttribute);
      if (name === undefined) logger.warn({ dn: entry.dn, attribute: groupSearch.nameAttribute }, 'LDAP group has no name attribute; skipped');
      else names.add(name);
      fresh.push(entry.dn);
    }
    return fresh;
  };

  let frontier = take(await search(fillFilter(groupSearch.filter, { dn: member.dn, username: member.username })));
  if (groupSearch.nested) {
    for (let depth = 1; depth <= groupSearch.maxDepth && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (let i = 0; i < frontier.length; i += NESTED_BATCH) {
        const batch = frontier.slice(i, i + NESTED_BATCH).map((dn) => fillFilter(groupSearch.nestedFilter, { dn }));
        next.push(...take(await search(anyOf(batch))));
      }
      frontier = next;
    }
    if (frontier.length > 0) logger.debug({ dn: member.dn, maxDepth: groupSearch.maxDepth }, 'LDAP group nesting deeper than maxDepth was not followed');
  }
  return [...names];
}

/** LDAP groups as a stand-alone source, for backends (PAM) that know a login name but not an entry. */
export interface LdapGroupSource {
  /**
   * Raw group names of a user; without `dn` the user entry is looked up first with the user search
   * (no entry, or several, means no LDAP groups). Rejects with BackendUnavailableError when the
   * directory cannot answer.
   */
  groupsOf(user: { username: string; dn?: string }): Promise<string[]>;
  /** Close the connection this source opened itself (a shared one is left to its owner). */
  close(): Promise<void>;
}

export interface LdapGroupSourceOptions {
  ldap: LdapConfig;
  logger: Logger;
  /** Share an existing service connection; otherwise the source opens its own from `ldap`. */
  service?: ServiceConnection;
}

/**
 * Build an LDAP group source. Throws when `ldap.groupSearch.baseDn` is empty or a TLS file cannot
 * be read (start-up configuration errors).
 */
export function createLdapGroupSource(options: LdapGroupSourceOptions): LdapGroupSource {
  const { ldap, logger } = options;
  if (!ldap.groupSearch.baseDn) throw new Error('ldap.groupSearch.baseDn is required when groups come from LDAP (groups.source ldap or both)');
  if (ldap.urls.length === 0) throw new Error('ldap.urls is required when groups come from LDAP (groups.source ldap or both)');
  const owned = options.service === undefined;
  const service =
    options.service ?? createServiceConnection({ ...directoryAccessFrom(ldap, logger), bind: ldap.bind, healthCheckIntervalMs: ldap.healthCheckIntervalMs });
  const users = createUserLookup(ldap);

  async function unavailableOnError<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw err;
      throw new BackendUnavailableError(`LDAP ${what} failed: ${describeError(err)}`, { cause: err });
    }
  }

  return {
    async groupsOf(user) {
      let dn = user.dn;
      if (dn === undefined) {
        const entries = await unavailableOnError('user search for groups', () => users.find(service, user.username));
        if (entries.length !== 1) {
          if (entries.length > 1) logger.error({ username: user.username, lookup: users.describe(user.username) }, 'several LDAP entries match one login name; no LDAP groups');
          return [];
        }
        dn = entries[0]!.dn;
      }
      const member = { username: user.username, dn };
      return unavailableOnError('group search', () => searchGroups(service, ldap.groupSearch, member, logger));
    },
    async close() {
      if (owned) await service.close();
    },
  };
}
