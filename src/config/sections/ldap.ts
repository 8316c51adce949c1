import { FilterParser } from 'ldapts';
import { z } from 'zod';

// Owned by the LDAP backend (issue 3). Every key has a default so an empty section parses: the
// default backend is PAM, and the section only has to make sense once `urls` is set.

const scope = z.enum(['sub', 'one', 'base']);

/** Placeholders each template may use; anything else in braces is a typo worth reporting. */
const PLACEHOLDERS = {
  userFilter: ['username'],
  userDnTemplate: ['username'],
  groupFilter: ['dn', 'username'],
  nestedFilter: ['dn'],
} as const;

const DEFAULT_USER_FILTER = '(&(objectClass=posixAccount)(uid={username}))';
const DEFAULT_GROUP_FILTER =
  '(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn}))(&(objectClass=posixGroup)(memberUid={username})))';
const DEFAULT_NESTED_FILTER = '(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn})))';

const tlsSchema = z
  .object({
    caFile: z.string().optional().describe('PEM file of the CA(s) that signed the LDAP servers\' certificates (default: the system trust store).'),
    certFile: z.string().optional().describe('PEM client certificate, for servers that require one (with keyFile).'),
    keyFile: z.string().optional().describe('PEM private key of the client certificate.'),
    rejectUnauthorized: z.boolean().default(true).describe('Verify the server certificate; false is for experiments only.'),
    serverName: z.string().optional().describe('Host name expected in the server certificate, when it differs from the URL host.'),
  })
  .strict();

const bindSchema = z
  .object({
    dn: z.string().default('').describe('Service account DN used to search for users and groups; empty means anonymous searches.'),
    password: z.string().optional().describe('Service account password (prefer passwordFile).'),
    passwordFile: z.string().optional().describe('File holding the service account password (e.g. a mounted Kubernetes Secret); re-read on every reconnect.'),
  })
  .strict();

const userAttributesSchema = z
  .object({
    username: z.string().min(1).default('uid').describe('Attribute holding the login name (preferred_username).'),
    name: z.string().default('cn').describe('Attribute holding the display name; empty to omit.'),
    email: z.string().default('mail').describe('Attribute holding the e-mail address; empty to omit.'),
    uidNumber: z.string().default('uidNumber').describe('Attribute holding the numeric Unix uid; empty to omit.'),
    gidNumber: z.string().default('gidNumber').describe('Attribute holding the primary Unix gid; empty to omit.'),
    subject: z
      .string()
      .default('entryUUID')
      .describe('Stable unique attribute used as the token subject (entryUUID, nsUniqueId, ipaUniqueID, objectGUID); empty or missing falls back to the DN.'),
  })
  .strict();

const userSearchSchema = z
  .object({
    baseDn: z.string().default('').describe('Where users are searched, e.g. ou=people,dc=example,dc=org.'),
    scope: scope.default('sub').describe('Search scope below baseDn.'),
    filter: z.string().default(DEFAULT_USER_FILTER).describe('User filter; {username} is replaced by the escaped login name (RFC 4515).'),
    attributes: userAttributesSchema.prefault({}).describe('Which attributes of the user entry become which claims.'),
  })
  .strict();

const groupSearchSchema = z
  .object({
    baseDn: z.string().default('').describe('Where groups are searched (required when groups.source is ldap or both).'),
    scope: scope.default('sub').describe('Search scope below baseDn.'),
    filter: z.string().default(DEFAULT_GROUP_FILTER).describe('Groups of a user; {dn} is the user DN and {username} the login name, both escaped.'),
    nameAttribute: z.string().min(1).default('cn').describe('Attribute holding the group name.'),
    nested: z.boolean().default(false).describe('Also report groups that contain the user\'s groups (group-in-group membership).'),
    nestedFilter: z.string().default(DEFAULT_NESTED_FILTER).describe('Groups that contain a group; {dn} is the member group\'s DN.'),
    maxDepth: z.number().int().min(1).max(10).default(3).describe('How many levels of group nesting are followed.'),
  })
  .strict();

/** The placeholders used in a template, e.g. ['username'] for `(uid={username})`. */
function placeholdersOf(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '');
}

function checkTemplate(
  ctx: z.RefinementCtx,
  path: (string | number)[],
  template: string,
  kind: keyof typeof PLACEHOLDERS,
  required: readonly string[],
  isFilter: boolean,
): void {
  const allowed: readonly string[] = PLACEHOLDERS[kind];
  const used = placeholdersOf(template);
  for (const name of used) {
    if (!allowed.includes(name)) ctx.addIssue({ code: 'custom', path, message: `unknown placeholder {${name}} (allowed: ${allowed.map((a) => `{${a}}`).join(', ')})` });
  }
  if (!required.some((r) => used.includes(r))) {
    ctx.addIssue({ code: 'custom', path, message: `must contain ${required.map((r) => `{${r}}`).join(' or ')}` });
  }
  if (!isFilter) return;
  try {
    // A neutral value keeps the syntax check about the template, not about the placeholder.
    FilterParser.parseString(template.replace(/\{[^{}]*\}/g, 'x'));
  } catch (err) {
    ctx.addIssue({ code: 'custom', path, message: `not a valid LDAP filter: ${(err as Error).message}` });
  }
}

/** The `ldap` section: transport, service account, user and group search. Every problem is reported with its path. */
export const ldapSchema = z
  .object({
    urls: z.array(z.string().regex(/^ldaps?:\/\/[^/?#]+\/?$/i, 'must be ldap://host[:port] or ldaps://host[:port]')).default([]).describe('Servers tried in order, with failover.'),
    startTLS: z.boolean().default(false).describe('Upgrade ldap:// connections with StartTLS (ldaps:// URLs are TLS already).'),
    allowInsecure: z.boolean().default(false).describe('Allow plain ldap:// without StartTLS: passwords cross the network in clear text.'),
    tls: tlsSchema.prefault({}).describe('TLS for ldaps:// and StartTLS.'),
    connectTimeoutMs: z.number().int().positive().default(5000).describe('A server that does not accept the connection (and TLS) within this time is skipped.'),
    timeoutMs: z.number().int().positive().default(10_000).describe('An LDAP operation (bind, search) slower than this fails over to the next server.'),
    deadServerBackoffMs: z.number().int().min(0).default(10_000).describe('How long a server that failed is tried only after the others.'),
    healthCheckIntervalMs: z.number().int().min(0).default(30_000).describe('How often the service connection is checked (and moved back to the first server); 0 disables.'),
    bind: bindSchema.prefault({}).describe('Service account for searches (bind-search-bind).'),
    userDnTemplate: z
      .string()
      .default('')
      .describe('Direct bind instead of a search, e.g. uid={username},ou=people,dc=example,dc=org ({username} is escaped per RFC 4514).'),
    userSearch: userSearchSchema.prefault({}).describe('How a login name is found in the directory.'),
    groupSearch: groupSearchSchema.prefault({}).describe('How groups are found when groups.source is ldap or both.'),
  })
  .strict()
  .superRefine((ldap, ctx) => {
    ldap.urls.forEach((url, i) => {
      if (/^ldap:\/\//i.test(url) && !ldap.startTLS && !ldap.allowInsecure) {
        ctx.addIssue({ code: 'custom', path: ['urls', i], message: 'plain ldap:// sends passwords in clear text: use ldaps://, set startTLS, or set allowInsecure' });
      }
    });
    if (ldap.bind.password !== undefined && ldap.bind.passwordFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bind', 'passwordFile'], message: 'set either bind.password or bind.passwordFile, not both' });
    }
    if (!ldap.bind.dn && (ldap.bind.password !== undefined || ldap.bind.passwordFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['bind', 'dn'], message: 'a bind password needs a bind DN' });
    }
    if (ldap.bind.dn && ldap.bind.password === undefined && ldap.bind.passwordFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['bind', 'password'], message: 'the bind DN needs a password or passwordFile' });
    }
    if ((ldap.tls.certFile === undefined) !== (ldap.tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', ldap.tls.certFile === undefined ? 'certFile' : 'keyFile'], message: 'tls.certFile and tls.keyFile go together' });
    }
    if (ldap.urls.length > 0 && !ldap.userDnTemplate && !ldap.userSearch.baseDn) {
      ctx.addIssue({ code: 'custom', path: ['userSearch', 'baseDn'], message: 'set userSearch.baseDn (or userDnTemplate for a direct bind)' });
    }
    checkTemplate(ctx, ['userSearch', 'filter'], ldap.userSearch.filter, 'userFilter', ['username'], true);
    if (ldap.userDnTemplate) checkTemplate(ctx, ['userDnTemplate'], ldap.userDnTemplate, 'userDnTemplate', ['username'], false);
    checkTemplate(ctx, ['groupSearch', 'filter'], ldap.groupSearch.filter, 'groupFilter', ['dn', 'username'], true);
    checkTemplate(ctx, ['groupSearch', 'nestedFilter'], ldap.groupSearch.nestedFilter, 'nestedFilter', ['dn'], true);
  });

/** The parsed `ldap` section, with every default filled in. */
export type LdapConfig = z.infer<typeof ldapSchema>;
