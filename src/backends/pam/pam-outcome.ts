import type { LoginFailureReason } from '../types.js';
import type { PamOutcome } from '../../native/binding.js';

/** What a PAM result code means for unixid: success, a refusal with its reason, or "PAM could not answer". */
export type PamVerdict = { kind: 'ok' } | { kind: 'refused'; reason: LoginFailureReason } | { kind: 'unavailable' };

/**
 * Map a PAM outcome to a verdict. Codes are matched by name because Linux-PAM's numbers are not
 * portable. A module that cannot reach its source (SSSD down: AUTHINFO_UNAVAIL) is "try again",
 * never "wrong password", so a directory outage does not count against anyone's throttle.
 */
export function pamVerdict(outcome: PamOutcome): PamVerdict {
  switch (outcome.codeName) {
    case 'PAM_SUCCESS':
      return { kind: 'ok' };
    case 'PAM_AUTH_ERR':
    case 'PAM_CRED_INSUFFICIENT':
    case 'PAM_MAXTRIES':
      return { kind: 'refused', reason: 'wrong_password' };
    case 'PAM_USER_UNKNOWN':
      return { kind: 'refused', reason: 'unknown_user' };
    case 'PAM_ACCT_EXPIRED':
      return { kind: 'refused', reason: 'account_expired' };
    case 'PAM_NEW_AUTHTOK_REQD':
    case 'PAM_AUTHTOK_EXPIRED':
      return { kind: 'refused', reason: 'password_change_required' };
    case 'PAM_PERM_DENIED':
      return { kind: 'refused', reason: 'access_denied' };
    case 'PAM_CONV_ERR':
      // The stack asked for more than one secret (an OTP, a new password): a login form cannot answer.
      return { kind: 'refused', reason: 'access_denied' };
    default:
      return { kind: 'unavailable' };
  }
}

/** A one-line description of a PAM outcome for the log (never contains the password). */
export function describePam(outcome: PamOutcome): string {
  const msgs = outcome.messages.length > 0 ? ` messages=${JSON.stringify(outcome.messages)}` : '';
  return `${outcome.step}: ${outcome.codeName} (${outcome.text})${msgs}`;
}
