import type { Entry, SearchOptions } from 'ldapts';
import type { LdapConfig } from '../../config/sections/ldap.js';
import { fillDnTemplate } from './dn.js';
import { binaryAttributes } from './entry.js';
import { fillFilter } from './filter.js';
import { resultCodeOf } from './ldap-errors.js';
import { ACCOUNT_STATE_ATTRIBUTES } from './password-policy.js';
import type { Searcher } from './service-connection.js';

/** How a login name is turned into directory entries. */
export interface UserLookup {
  /** Where the entry for `username` is looked for, for logs and diagnostics. */
  describe(username: string): string;
  /**
   * The entries matching the user filter for `username` (at most two: enough to see that a name is
   * ambiguous). With a DN template this reads the templated DN only. LDAP result errors other than
   * "no such entry" are thrown as they are; the caller decides what they mean.
   */
  find(searcher: Searcher, username: string): Promise<Entry[]>;
  /** The DN a direct bind uses for `username`, when a DN template is configured. */
  bindDn(username: string): string | undefined;
}

/** Build the lookup from config. Never throws (templates were checked by the config schema). */
export function createUserLookup(ldap: LdapConfig): UserLookup {
  const { userSearch, userDnTemplate } = ldap;
  const a = userSearch.attributes;
  const attributes = [...new Set([a.username, a.name, a.email, a.uidNumber, a.gidNumber, a.subject, ...ACCOUNT_STATE_ATTRIBUTES].filter((x) => x !== ''))];
  const explicitBufferAttributes = binaryAttributes(a.subject);

  function where(username: string): { base: string; scope: SearchOptions['scope'] } {
    if (userDnTemplate) return { base: fillDnTemplate(userDnTemplate, { username }), scope: 'base' };
    return { base: userSearch.baseDn, scope: userSearch.scope };
  }

  return {
    describe(username) {
      const { base, scope } = where(username);
      return `${fillFilter(userSearch.filter, { username }).toString()} ${scope} ${base}`;
    },
    async find(searcher, username) {
      const { base, scope } = where(username);
      try {
        const result = await searcher.search(base, {
          scope,
          filter: fillFilter(userSearch.filter, { username }),
          attributes,
          explicitBufferAttributes,
          // Two answers are enough to know the name is ambiguous; never page through a directory.
          sizeLimit: 2,
          derefAliases: 'never',
        });
        return result.searchEntries;
      } catch (err) {
        const code = resultCodeOf(err);
        // The templated DN does not exist (32), or the login name made it malformed (34).
        if (userDnTemplate && (code === 32 || code === 34)) return [];
        throw err;
      }
    },
    bindDn(username) {
      return userDnTemplate ? fillDnTemplate(userDnTemplate, { username }) : undefined;
    },
  };
}
