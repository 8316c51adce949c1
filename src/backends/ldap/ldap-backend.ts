import type { Entry } from 'ldapts';
import type { Logger } from 'pino';
import type { LdapConfig } from '../../config/sections/ldap.js';
import type { GroupFilter } from '../../directory/group-filter.js';
import type { Directory } from '../../directory/types.js';
import { BackendUnavailableError } from '../../errors.js';
import type { AccountRef, Identity } from '../../identity.js';
import { passwordProblem, usernameProblem } from '../username.js';
import type { CredentialBackend, LoginContext, LoginFailureReason, LoginResult, RefreshResult } from '../types.js';
import type { LdapConnection } from './connect.js';
import { sameDn } from './dn.js';
import { firstOf, integerOf, subjectOf, usernameOf } from './entry.js';
import { directoryAccessFrom, withFreshConnection } from './failover.js';
import { createLdapGroupSource } from './ldap-groups.js';
import { describeError, isServerFailure } from './ldap-errors.js';
import {
  accountStateProblem,
  classifyBindFailure,
  classifyBindSuccess,
  passwordPolicyOf,
  passwordPolicyRequestControl,
} from './password-policy.js';
import { createServiceConnection } from './service-connection.js';
import { createUserLookup } from './user-search.js';

export interface LdapBackendOptions {
  ldap: LdapConfig;
  /** Where group memberships come from: NSS (getgrouplist), an LDAP group search, or both merged. */
  groupSource: 'nss' | 'ldap' | 'both';
  directory: Directory;
  groupFilter: GroupFilter;
  logger: Logger;
}

type Refusal = { reason: LoginFailureReason; detail: string };

/**
 * The LDAP credential backend: bind-search-bind with a service account (or anonymous searches),
 * or a direct bind from `userDnTemplate`. Wrong passwords, unknown and barred users resolve to
 * `{ok:false}`; an unreachable or misbehaving directory rejects with BackendUnavailableError.
 * Throws at construction when the section cannot work (no URLs, no way to find users, no group
 * base for LDAP groups, unreadable TLS files).
 */
export function createLdapBackend(options: LdapBackendOptions): CredentialBackend {
  const { ldap, groupSource, directory, groupFilter } = options;
  const logger = options.logger.child({ backend: 'ldap' });
  if (ldap.urls.length === 0) throw new Error('ldap.urls: at least one server URL is required for the LDAP backend');
  if (!ldap.userDnTemplate && !ldap.userSearch.baseDn) throw new Error('ldap.userSearch.baseDn (or ldap.userDnTemplate) is required for the LDAP backend');

  const access = directoryAccessFrom(ldap, logger);
  const service = createServiceConnection({ ...access, bind: ldap.bind, healthCheckIntervalMs: ldap.healthCheckIntervalMs });
  const users = createUserLookup(ldap);
  const ldapGroups = groupSource === 'nss' ? undefined : createLdapGroupSource({ ldap, logger, service });
  const attrs = ldap.userSearch.attributes;

  /** Run one step, log its duration (try-login shows these), and turn directory failures into BackendUnavailableError. */
  async function step<T>(log: Logger, name: string, fields: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await fn();
      log.debug({ step: name, ...fields, ms: Math.round(performance.now() - started) }, `ldap ${name}`);
      return result;
    } catch (err) {
      const ms = Math.round(performance.now() - started);
      log.debug({ step: name, ...fields, ms, err: describeError(err) }, `ldap ${name} failed`);
      if (err instanceof BackendUnavailableError) throw err;
      throw new BackendUnavailableError(`LDAP ${name} failed: ${describeError(err)}`, { cause: err });
    }
  }

  /** Bind as `dn` on `connection`; resolves to the refusal (reason and detail naming the URL), if any. Rejects on transport failures. */
  async function bindAs(
    connection: LdapConnection,
    log: Logger,
    dn: string,
    secret: string,
    invalidCredentials: 'wrong_password' | 'invalid_credentials',
  ): Promise<Refusal | undefined> {
    connection.forgetBind();
    try {
      await connection.client.bind(dn, secret, passwordPolicyRequestControl());
    } catch (err) {
      if (isServerFailure(err)) throw err;
      const policy = passwordPolicyOf(connection.lastBindControls() ?? []);
      const verdict = classifyBindFailure(err, policy, invalidCredentials);
      // A DN built from the typed name (direct bind) is no proof of an account: it may hold a
      // password typed into the username field, so it is named only when a search found it.
      const named = invalidCredentials === 'wrong_password' ? dn : '(the DN of the typed name)';
      if (verdict.kind === 'unavailable') throw new BackendUnavailableError(`bind as ${named} at ${connection.url}: ${verdict.detail}`, { cause: err });
      log.info({ dn: named, url: connection.url, reason: verdict.reason, detail: verdict.detail }, 'LDAP bind refused');
      return { reason: verdict.reason, detail: `${verdict.detail} (${connection.url})` };
    }
    const policy = passwordPolicyOf(connection.lastBindControls() ?? []);
    if (policy?.timeBeforeExpiration !== undefined || policy?.graceAuthNsRemaining !== undefined) {
      log.info({ dn, timeBeforeExpiration: policy.timeBeforeExpiration, graceAuthNsRemaining: policy.graceAuthNsRemaining }, 'LDAP password expires soon');
    }
    const reason = classifyBindSuccess(policy);
    if (reason) {
      log.info({ dn, url: connection.url, reason, ppolicy: policy?.error }, 'LDAP bind accepted only for a password change');
      return { reason, detail: `ppolicy: ${policy?.error ?? ''} (${connection.url})` };
    }
    return undefined;
  }

  /** Raw group names from the configured source(s). Rejects with BackendUnavailableError. */
  async function rawGroups(log: Logger, username: string, dn: string): Promise<string[]> {
    const out: string[] = [];
    if (groupSource !== 'ldap') {
      const nss = await step(log, 'nss groups', { username }, async () => {
        const user = await directory.user(username);
        // An LDAP user NSS does not know simply has no NSS groups.
        return user ? directory.groups(user) : [];
      });
      out.push(...nss);
    }
    if (ldapGroups) out.push(...(await step(log, 'group search', { dn }, () => ldapGroups.groupsOf({ username, dn }))));
    return out;
  }

  /** The identity an entry describes, with filtered groups; a refusal when the entry lacks a login name. */
  async function identityOf(log: Logger, entry: Entry, typed: string): Promise<{ identity: Identity } | Refusal> {
    const username = usernameOf(entry, attrs.username, typed);
    if (username === undefined) {
      log.error({ dn: entry.dn, attribute: attrs.username }, 'LDAP entry has no login-name attribute (check ldap.userSearch.attributes.username)');
      return { reason: 'access_denied', detail: `entry ${entry.dn} has no ${attrs.username} attribute` };
    }
    const identity: Identity = { subject: subjectOf(entry, attrs.subject), username, groups: [], backend: 'ldap', dn: entry.dn };
    if (attrs.subject && identity.subject === entry.dn) {
      // Falling back to the DN is allowed, but a subject that changes once the attribute becomes readable breaks refreshes.
      log.warn({ dn: entry.dn, attribute: attrs.subject }, 'LDAP entry has no subject attribute (or it is not readable); the DN is the subject');
    }
    const uid = integerOf(entry, attrs.uidNumber);
    const gid = integerOf(entry, attrs.gidNumber);
    const name = firstOf(entry, attrs.name);
    const email = firstOf(entry, attrs.email);
    if (uid !== undefined) identity.uid = uid;
    if (gid !== undefined) identity.gid = gid;
    if (name !== undefined) identity.name = name;
    if (email !== undefined) identity.email = email;
    identity.groups = groupFilter(await rawGroups(log, username, entry.dn));
    return { identity };
  }

  /** Bind-search-bind: find the one entry with the service connection, then bind as it. */
  async function searchAndBind(log: Logger, username: string, secret: string): Promise<LoginResult> {
    const entries = await step(log, 'user search', {}, () => users.find(service, username));
    // The detail names the filter for `unixid try-login`; the login log leaves it out (see password-check.ts).
    if (entries.length === 0) return { ok: false, reason: 'unknown_user', detail: `no entry matches ${users.describe(username)}` };
    if (entries.length > 1) {
      log.error({ dns: entries.map((e) => e.dn), lookup: users.describe(username) }, 'several LDAP entries match one login name: login refused (check ldap.userSearch.filter)');
      return { ok: false, reason: 'invalid_credentials', detail: 'several entries match the login name' };
    }
    const entry = entries[0]!;
    const refusal = await step(log, 'user bind', { dn: entry.dn }, () =>
      withFreshConnection(access, `bind as ${entry.dn}`, (c) => bindAs(c, log, entry.dn, secret, 'wrong_password'), { watchBinds: true }),
    );
    if (refusal) return { ok: false, ...refusal };
    const built = await identityOf(log, entry, username);
    return 'identity' in built ? { ok: true, identity: built.identity } : { ok: false, ...built };
  }

  /** Direct bind: bind as the templated DN, then read the entry through that same connection. */
  async function directBind(log: Logger, username: string, secret: string, dn: string): Promise<LoginResult> {
    const outcome = await step(log, 'user bind', {}, () =>
      withFreshConnection(
        access,
        'bind as the DN of the typed name',
        async (c): Promise<Refusal | { entries: Entry[] }> => {
          const refusal = await bindAs(c, log, dn, secret, 'invalid_credentials');
          return refusal ?? { entries: await users.find(c.client, username) };
        },
        { watchBinds: true },
      ),
    );
    if ('reason' in outcome) return { ok: false, ...outcome };
    const entry = outcome.entries[0];
    if (!entry) {
      log.info({ dn, lookup: users.describe(username) }, 'LDAP bind succeeded but the entry does not match the user filter');
      return { ok: false, reason: 'access_denied', detail: `${dn} does not match ${users.describe(username)}` };
    }
    const built = await identityOf(log, entry, username);
    return 'identity' in built ? { ok: true, identity: built.identity } : { ok: false, ...built };
  }

  const backend = {
    type: 'ldap',

    async login(username: string, password: Buffer, ctx: LoginContext): Promise<LoginResult> {
      // The typed name is not logged: it may be a password typed into the wrong field (userFp stands in).
      const log = logger.child({ reqId: ctx.requestId, userFp: ctx.userFp });
      const problem = usernameProblem(username);
      if (problem) return { ok: false, reason: 'invalid_username', detail: `username ${problem}` };
      // An empty password turns a simple bind into an anonymous bind that many servers accept.
      const badPassword = passwordProblem(password);
      if (badPassword) return { ok: false, reason: 'invalid_credentials', detail: `password ${badPassword} (never sent to the directory)` };
      const secret = password.toString('utf8');
      const started = performance.now();
      const dn = users.bindDn(username);
      const result = dn === undefined ? await searchAndBind(log, username, secret) : await directBind(log, username, secret, dn);
      const ms = Math.round(performance.now() - started);
      if (result.ok) log.debug({ dn: result.identity.dn, subject: result.identity.subject, groups: result.identity.groups.length, ms }, 'LDAP login accepted');
      else log.debug({ reason: result.reason, ms }, 'LDAP login refused');
      return result;
    },

    async refresh(account: AccountRef, ctx: LoginContext): Promise<RefreshResult> {
      const log = logger.child({ reqId: ctx.requestId, username: account.username, sub: account.subject });
      if (account.backend !== 'ldap') return { ok: false, reason: 'account_gone', detail: `account belongs to backend ${account.backend}` };
      const entries = await step(log, 'user search', { lookup: users.describe(account.username) }, () => users.find(service, account.username));
      if (entries.length === 0) return { ok: false, reason: 'account_gone', detail: `no entry matches ${users.describe(account.username)}` };
      if (entries.length > 1) {
        log.error({ dns: entries.map((e) => e.dn) }, 'several LDAP entries match one login name: refresh refused (check ldap.userSearch.filter)');
        return { ok: false, reason: 'account_gone', detail: 'several entries match the login name' };
      }
      const entry = entries[0]!;
      if (account.dn !== undefined && !sameDn(entry.dn, account.dn)) {
        return { ok: false, reason: 'account_gone', detail: `DN changed from ${account.dn} to ${entry.dn}` };
      }
      const subject = subjectOf(entry, attrs.subject);
      if (subject !== account.subject) return { ok: false, reason: 'account_gone', detail: `subject changed from ${account.subject} to ${subject}` };
      const barred = accountStateProblem(entry);
      if (barred) return { ok: false, ...barred };
      const built = await identityOf(log, entry, account.username);
      if (!('identity' in built)) return { ok: false, reason: 'account_gone', detail: built.detail };
      const { identity } = built;
      if (account.uid !== undefined && identity.uid !== undefined && identity.uid !== account.uid) {
        return { ok: false, reason: 'account_gone', detail: `uidNumber changed from ${account.uid} to ${identity.uid}` };
      }
      return { ok: true, identity };
    },

    async health() {
      try {
        const { url, ms } = await service.check();
        return { ok: true, detail: `${url} answered in ${ms} ms` };
      } catch (err) {
        return { ok: false, detail: err instanceof BackendUnavailableError ? (err.detail ?? err.message) : describeError(err) };
      }
    },

    async close() {
      await ldapGroups?.close();
      await service.close();
    },
  } satisfies CredentialBackend;
  return backend;
}
