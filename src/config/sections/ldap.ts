import { z } from 'zod';

// Owned by the LDAP backend (issue 3). Validated only when backend.type is 'ldap' or groups.source uses LDAP.
export const ldapSchema = z
  .object({
    urls: z.array(z.string().regex(/^ldaps?:\/\//, 'must be ldap:// or ldaps://')).default([]).describe('Servers tried in order, with failover.'),
  })
  .strict();
