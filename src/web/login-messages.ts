import type { LoginFailureReason } from '../backends/types.js';

/** The one message every credential failure shows, so the page never tells which part was wrong. */
export const GENERIC_LOGIN_FAILURE = 'Invalid username or password.';

/** What the login page says for a failure reason; the log keeps the precise reason. */
export function loginFailureMessage(reason: LoginFailureReason): string {
  if (reason === 'password_change_required') {
    return 'Your password has expired and must be changed before you can log in. Change it (for example with passwd on a Unix host) and try again.';
  }
  return GENERIC_LOGIN_FAILURE;
}
