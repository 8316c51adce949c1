import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { BackendUnavailableError, LoginAbandonedError } from '../../errors.js';
import type { GroupFilter } from '../../directory/group-filter.js';
import { gecosName, type Directory, type UnixUser } from '../../directory/types.js';
import type { Identity } from '../../identity.js';
import type { PamOutcome } from '../../native/binding.js';
import { createNativePool, PoolError, type NativePool } from '../../native/native-pool.js';
import type { CredentialBackend, LoginResult, RefreshResult } from '../types.js';
import { passwordProblem, usernameProblem } from '../username.js';
import { describePam, pamVerdict } from './pam-outcome.js';

export interface PamBackendOptions {
  pam: { service: string; maxConcurrent: number; maxQueue: number; timeoutMs: number };
  directory: Directory;
  groupFilter: GroupFilter;
  logger: Logger;
  /** Injected in tests; by default a pool of pam.maxConcurrent threads. */
  pool?: NativePool;
}

/**
 * The subject of a Unix account: a hash of the login name and uid. Stable across restarts and
 * replicas without any stored state, and different when a name or uid is reassigned to someone else.
 */
export function unixSubject(username: string, uid: number): string {
  return createHash('sha256').update(`unix\u0000${username}\u0000${uid}`).digest('base64url').slice(0, 32);
}

/**
 * Passwords checked by PAM (pam_authenticate then pam_acct_mgmt in one transaction, PAM_RHOST set),
 * account and groups from NSS. Runs on its own bounded thread pool. Refresh re-runs the account
 * phase and requires the same uid.
 */
export function createPamBackend(options: PamBackendOptions): CredentialBackend {
  const { pam, directory, groupFilter, logger } = options;
  const pool =
    options.pool ?? createNativePool({ name: 'pam', threads: pam.maxConcurrent, maxQueue: pam.maxQueue, timeoutMs: pam.timeoutMs });

  async function runPam(op: 'pamLogin' | 'pamAccount', username: string, rhost: string, password?: Buffer, signal?: AbortSignal): Promise<PamOutcome> {
    try {
      if (op === 'pamLogin') {
        // The pool zero-fills this copy as soon as the addon has taken its own; the caller's buffer stays the caller's.
        return await pool.run<PamOutcome>({ op, service: pam.service, username, password: new Uint8Array(password!), rhost }, signal);
      }
      return await pool.run<PamOutcome>({ op, service: pam.service, username, rhost });
    } catch (err) {
      if (err instanceof PoolError && err.kind === 'aborted') throw new LoginAbandonedError({ cause: err });
      const detail = err instanceof PoolError ? `PAM ${err.kind}: ${err.message}` : `PAM: ${(err as Error).message}`;
      throw new BackendUnavailableError(detail, { cause: err });
    }
  }

  async function identityOf(user: UnixUser, fresh: boolean): Promise<Identity> {
    const groups = await directory.groups(user, { fresh });
    const identity: Identity = {
      subject: unixSubject(user.name, user.uid),
      username: user.name,
      uid: user.uid,
      gid: user.gid,
      groups: groupFilter(groups),
      backend: 'pam',
    };
    const name = gecosName(user.gecos);
    if (name) identity.name = name;
    return identity;
  }

  return {
    type: 'pam',

    async login(username, password, ctx): Promise<LoginResult> {
      const badName = usernameProblem(username);
      if (badName) return { ok: false, reason: 'invalid_username', detail: `username ${badName}` };
      const badPassword = passwordProblem(password);
      // Not `wrong_password`: PAM never saw the name, so nothing says it is an account.
      if (badPassword) return { ok: false, reason: 'invalid_credentials', detail: `password ${badPassword}, not sent to PAM` };

      const started = process.hrtime.bigint();
      const outcome = await runPam('pamLogin', username, ctx.remoteAddress ?? '', password, ctx.signal);
      const pamMs = Number(process.hrtime.bigint() - started) / 1e6;
      const verdict = pamVerdict(outcome);
      if (verdict.kind === 'unavailable') throw new BackendUnavailableError(describePam(outcome));
      if (verdict.kind === 'refused') {
        // pam_unix and most modules answer an unknown user exactly as a wrong password (PAM_AUTH_ERR),
        // and some refuse one outright (PAM_PERM_DENIED) before the account phase. NSS tells them
        // apart for the log: the user sees the same message either way, and a name that is no
        // account (often a password typed into the wrong field) is then never logged. A refusal in
        // the account phase came after PAM accepted the password: the account exists.
        if (outcome.step !== 'acct_mgmt' && verdict.reason !== 'unknown_user') {
          const known = await directory.user(username).then(
            (u) => (u ? 'yes' : 'no'),
            () => 'unknown',
          );
          if (known !== 'yes') return { ok: false, reason: known === 'no' ? 'unknown_user' : 'invalid_credentials', detail: describePam(outcome) };
        }
        return { ok: false, reason: verdict.reason, detail: describePam(outcome) };
      }

      // PAM said yes; NSS must know the account too, or there is nothing to put in a token.
      const user = await directory.user(username, { fresh: true });
      if (!user) return { ok: false, reason: 'access_denied', detail: 'PAM accepted the password but NSS does not know the user' };
      logger.debug({ reqId: ctx.requestId, username: user.name, pamMs }, 'PAM transaction done');
      return { ok: true, identity: await identityOf(user, true) };
    },

    async refresh(account, ctx): Promise<RefreshResult> {
      if (usernameProblem(account.username)) return { ok: false, reason: 'account_gone', detail: 'stored username is not valid' };
      const user = await directory.user(account.username, { fresh: true });
      if (!user) return { ok: false, reason: 'account_gone', detail: 'NSS no longer knows the user' };
      if (account.uid !== undefined && user.uid !== account.uid) {
        return { ok: false, reason: 'account_gone', detail: `uid changed from ${account.uid} to ${user.uid}` };
      }
      if (unixSubject(user.name, user.uid) !== account.subject) return { ok: false, reason: 'account_gone', detail: 'subject changed' };
      const outcome = await runPam('pamAccount', user.name, ctx.remoteAddress ?? '');
      const verdict = pamVerdict(outcome);
      if (verdict.kind === 'unavailable') throw new BackendUnavailableError(describePam(outcome));
      if (verdict.kind === 'refused') {
        const reason = verdict.reason === 'unknown_user' || verdict.reason === 'wrong_password' || verdict.reason === 'invalid_username' || verdict.reason === 'invalid_credentials' ? 'account_gone' : verdict.reason;
        return { ok: false, reason, detail: describePam(outcome) };
      }
      return { ok: true, identity: await identityOf(user, true) };
    },

    async health() {
      const s = pool.stats();
      return { ok: true, detail: `${s.running}/${s.maxThreads} PAM threads busy, ${s.queued} waiting` };
    },

    close: () => pool.close(),
  };
}
