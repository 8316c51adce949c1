import type { AccountRef, Identity } from '../identity.js';

/** Facts about the request a login or refresh comes from; used for PAM_RHOST, logs and throttling. */
export interface LoginContext {
  /** Client IP address as seen by unixid (after trusted-proxy handling). */
  remoteAddress?: string;
  /** Request id for correlating log lines. */
  requestId?: string;
  /** Keyed fingerprint of the typed name, for log lines: the name itself may be a mistyped password. */
  userFp?: string;
  /** Fires when the client has gone: work not yet started (a PAM call still queued) is dropped, and the login rejects with LoginAbandonedError. */
  signal?: AbortSignal;
}

/**
 * Why a login did not succeed. The user is shown one generic message for every reason except
 * `password_change_required`; the log records the precise reason.
 */
export type LoginFailureReason =
  | 'invalid_username' // refused before the backend saw it (empty, too long, control characters)
  | 'unknown_user'
  | 'wrong_password'
  | 'invalid_credentials' // the backend cannot tell unknown user from wrong password
  | 'account_locked'
  | 'account_expired'
  | 'access_denied' // account rules (pam_access, SSSD access provider, LDAP filter) refuse the login
  | 'password_change_required';

export type LoginResult =
  | { ok: true; identity: Identity }
  | { ok: false; reason: LoginFailureReason; /** Backend detail for the log only (PAM code, LDAP result). */ detail?: string };

/** Why an account that once logged in may no longer refresh. */
export type RefreshFailureReason =
  | 'account_gone' // deleted, or the subject/uid/DN no longer matches
  | 'account_locked'
  | 'account_expired'
  | 'access_denied'
  | 'password_change_required';

export type RefreshResult =
  | { ok: true; identity: Identity }
  | { ok: false; reason: RefreshFailureReason; detail?: string };

export interface BackendHealth {
  ok: boolean;
  detail?: string;
}

/**
 * A source of truth for passwords and accounts. A wrong password is a *result*
 * (`{ok:false}`); the promise rejects (with a BackendUnavailableError) only when the backend
 * itself failed and cannot answer, so callers can tell "denied" from "try again later".
 */
export interface CredentialBackend {
  /** Registry name, also the `backend` of identities it returns. */
  readonly type: string;
  /** Check a password and the account, and return the identity with its groups. */
  login(username: string, password: Buffer, ctx: LoginContext): Promise<LoginResult>;
  /** Re-check an account that logged in earlier (no password) and re-read its groups. */
  refresh(account: AccountRef, ctx: LoginContext): Promise<RefreshResult>;
  /** Cheap check for /readyz. */
  health(): Promise<BackendHealth>;
  /** Release threads, connections and timers. */
  close(): Promise<void>;
}
