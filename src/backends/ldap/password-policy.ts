import { Control, type Entry } from 'ldapts';
import type { LoginFailureReason, RefreshFailureReason } from '../types.js';
import { childrenOf, readTlv, type ResponseControl } from './bind-response-tap.js';
import { describeError, resultCodeOf } from './ldap-errors.js';

/** draft-behera-ldap-password-policy: sent (empty) on a bind, answered with a PasswordPolicyResponseValue. */
export const PASSWORD_POLICY_OID = '1.3.6.1.4.1.42.2.27.8.5.1';

const PPOLICY_ERRORS = [
  'passwordExpired',
  'accountLocked',
  'changeAfterReset',
  'passwordModNotAllowed',
  'mustSupplyOldPassword',
  'insufficientPasswordQuality',
  'passwordTooShort',
  'passwordTooYoung',
  'passwordInHistory',
] as const;

export type PasswordPolicyError = (typeof PPOLICY_ERRORS)[number] | `error${number}`;

/** What the server said about the password policy of the account that just tried to bind. */
export interface PasswordPolicyResponse {
  error?: PasswordPolicyError;
  timeBeforeExpiration?: number;
  graceAuthNsRemaining?: number;
}

/** The control to attach to a user bind so the server explains a refusal. */
export function passwordPolicyRequestControl(): Control {
  return new Control(PASSWORD_POLICY_OID, { critical: false });
}

function readInteger(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 256 + buf[i]!;
  return n;
}

/** Decode a PasswordPolicyResponseValue. Throws on malformed input. */
export function parsePasswordPolicyValue(value: Buffer): PasswordPolicyResponse {
  const out: PasswordPolicyResponse = {};
  const seq = readTlv(value, 0);
  for (const part of childrenOf(value, seq)) {
    if (part.tag === 0xa0) {
      // warning [0] CHOICE { timeBeforeExpiration [0], graceAuthNsRemaining [1] }
      const [choice] = childrenOf(value, part);
      if (choice?.tag === 0x80) out.timeBeforeExpiration = readInteger(value, choice.start, choice.end);
      if (choice?.tag === 0x81) out.graceAuthNsRemaining = readInteger(value, choice.start, choice.end);
    } else if (part.tag === 0x81) {
      const code = readInteger(value, part.start, part.end);
      out.error = PPOLICY_ERRORS[code] ?? `error${code}`;
    }
  }
  return out;
}

/** The password-policy answer among a BindResponse's controls, if any (malformed ones are ignored). */
export function passwordPolicyOf(controls: readonly ResponseControl[]): PasswordPolicyResponse | undefined {
  const control = controls.find((c) => c.oid === PASSWORD_POLICY_OID);
  if (!control?.value) return undefined;
  try {
    return parsePasswordPolicyValue(control.value);
  } catch {
    return undefined;
  }
}

export type BindVerdict =
  | { kind: 'refused'; reason: LoginFailureReason; detail: string }
  /** The server will not let anyone in this way (transport policy): an operator problem, not the user's. */
  | { kind: 'unavailable'; detail: string };

/** Active Directory puts the real reason into the diagnostic message of result 49 as `data NNN`. */
const AD_DATA_CODES: Record<string, LoginFailureReason> = {
  '525': 'unknown_user',
  '52e': 'wrong_password',
  '530': 'access_denied', // logon hours
  '531': 'access_denied', // workstation
  '532': 'password_change_required', // password expired
  '533': 'account_locked', // disabled
  '701': 'account_expired',
  '773': 'password_change_required', // must reset
  '775': 'account_locked',
};

function policyReason(policy: PasswordPolicyResponse | undefined): LoginFailureReason | undefined {
  switch (policy?.error) {
    case 'accountLocked':
      return 'account_locked';
    case 'passwordExpired':
    case 'changeAfterReset':
      return 'password_change_required';
    default:
      return undefined;
  }
}

/**
 * Map a refused user bind to a LoginFailureReason, using the password-policy control when the
 * server sent one, Active Directory's `data NNN` codes, and finally the result code.
 * `invalidCredentials` is what a plain 49 means: 'wrong_password' when the entry was found by a
 * search, 'invalid_credentials' for a direct bind (the user may not exist). Never throws.
 */
export function classifyBindFailure(
  err: unknown,
  policy: PasswordPolicyResponse | undefined,
  invalidCredentials: 'wrong_password' | 'invalid_credentials',
): BindVerdict {
  const code = resultCodeOf(err);
  const detail = `${describeError(err)}${policy?.error ? ` [ppolicy: ${policy.error}]` : ''}`;
  const fromPolicy = policyReason(policy);
  if (fromPolicy) return { kind: 'refused', reason: fromPolicy, detail };
  const message = err instanceof Error ? err.message : '';
  switch (code) {
    case 49: {
      const ad = /\bdata ([0-9a-f]{3})\b/i.exec(message)?.[1]?.toLowerCase();
      const reason = ad ? AD_DATA_CODES[ad] : undefined;
      // A direct bind cannot tell "no such user" from "wrong password", even when AD says so.
      if (reason === 'unknown_user' || reason === 'wrong_password') return { kind: 'refused', reason: invalidCredentials, detail };
      return { kind: 'refused', reason: reason ?? invalidCredentials, detail };
    }
    case 32: // noSuchObject: some servers say so for a bind DN that does not exist
    case 34: // invalidDNSyntax: the login name made no valid DN
    case 48: // inappropriateAuthentication
      return { kind: 'refused', reason: 'invalid_credentials', detail };
    case 19: // constraintViolation: 389-ds and others for "exceeded password retry limit"
      return { kind: 'refused', reason: /lock|retry limit/i.test(message) ? 'account_locked' : 'access_denied', detail };
    case 53: // unwillingToPerform: 389-ds "account inactivated"; OpenLDAP for refused bind kinds
      return { kind: 'refused', reason: /inactivat|locked|disabled/i.test(message) ? 'account_locked' : 'access_denied', detail };
    case 50: // insufficientAccessRights
      return { kind: 'refused', reason: 'access_denied', detail };
    case 7: // authMethodNotSupported
    case 8: // strongAuthRequired
    case 13: // confidentialityRequired: the server wants TLS that is not configured
      return { kind: 'unavailable', detail: `${detail} (the server refuses simple binds on this connection: check ldap.urls/startTLS)` };
    default:
      return { kind: 'refused', reason: 'invalid_credentials', detail };
  }
}

/**
 * A successful bind can still carry a verdict: OpenLDAP lets a user whose password was reset by an
 * administrator bind, but only to change the password. Resolves to the reason to refuse, if any.
 */
export function classifyBindSuccess(policy: PasswordPolicyResponse | undefined): LoginFailureReason | undefined {
  return policy?.error === 'changeAfterReset' || policy?.error === 'passwordExpired' ? 'password_change_required' : undefined;
}

/** Operational attributes that tell whether an account is locked without a bind (read on refresh). */
export const ACCOUNT_STATE_ATTRIBUTES = ['pwdAccountLockedTime', 'pwdReset', 'nsAccountLock', 'userAccountControl'] as const;

function first(entry: Entry, name: string): string | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}

/**
 * Whether an entry that still matches the user filter is nevertheless barred, as far as its
 * attributes show: an OpenLDAP permanent lock or a pending forced password change, a 389-ds
 * inactivated account, an Active Directory disabled account. Temporary ppolicy
 * lockouts are left to the next bind (their expiry lives in the policy entry). Never throws.
 */
export function accountStateProblem(entry: Entry): { reason: RefreshFailureReason; detail: string } | undefined {
  if (first(entry, 'pwdAccountLockedTime') === '000001010000Z') return { reason: 'account_locked', detail: 'pwdAccountLockedTime: permanently locked' };
  if (first(entry, 'pwdReset')?.toUpperCase() === 'TRUE') return { reason: 'password_change_required', detail: 'pwdReset: TRUE' };
  if (first(entry, 'nsAccountLock')?.toUpperCase() === 'TRUE') return { reason: 'account_locked', detail: 'nsAccountLock: TRUE' };
  const uac = Number(first(entry, 'userAccountControl'));
  if (Number.isInteger(uac) && uac & 0x2) return { reason: 'account_locked', detail: 'userAccountControl: ACCOUNTDISABLE' };
  return undefined;
}
