import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { GroupFilter } from '../directory/group-filter.js';
import type { Directory } from '../directory/types.js';
import type { CredentialBackend } from './types.js';

/** What every backend may need besides its own config section. */
export interface BackendDeps {
  /** NSS users and groups (the default group source). */
  directory: Directory;
  /** include/exclude/prefix filter applied to every group list. */
  groupFilter: GroupFilter;
  logger: Logger;
}

/**
 * Build the configured credential backend by `backend.type`; each is loaded only when chosen, so a
 * PAM deployment never loads the LDAP client and the reverse. Rejects on an unknown type.
 */
export async function createBackend(config: Config, deps: BackendDeps): Promise<CredentialBackend> {
  switch (config.backend.type) {
    case 'pam': {
      const { createPamBackend } = await import('./pam/pam-backend.js');
      return createPamBackend({ pam: config.pam, ...deps });
    }
    case 'ldap': {
      const { createLdapBackend } = await import('./ldap/ldap-backend.js');
      return createLdapBackend({ ldap: config.ldap, groupSource: config.groups.source, ...deps });
    }
    default: {
      const never: never = config.backend.type;
      throw new Error(`unknown backend type ${String(never)}`);
    }
  }
}
