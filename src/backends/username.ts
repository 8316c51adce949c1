/** Longest login name unixid passes to a backend, in UTF-8 bytes. */
export const MAX_USERNAME_BYTES = 256;
/** Longest password unixid passes to a backend, in UTF-8 bytes. */
export const MAX_PASSWORD_BYTES = 4096;

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators: none belongs in a login name.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/** Why a username is refused before any backend sees it, or undefined when it is acceptable. */
export function usernameProblem(username: string): string | undefined {
  if (username.length === 0) return 'empty';
  if (Buffer.byteLength(username, 'utf8') > MAX_USERNAME_BYTES) return `longer than ${MAX_USERNAME_BYTES} bytes`;
  if (CONTROL.test(username)) return 'contains control characters';
  if (username !== username.trim()) return 'leading or trailing white space';
  return undefined;
}

/** Why a password is refused before any backend sees it (NUL cannot cross the C boundary intact). */
export function passwordProblem(password: Buffer): string | undefined {
  if (password.length === 0) return 'empty';
  if (password.length > MAX_PASSWORD_BYTES) return `longer than ${MAX_PASSWORD_BYTES} bytes`;
  if (password.includes(0)) return 'contains NUL';
  return undefined;
}
