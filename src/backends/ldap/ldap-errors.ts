import { ResultCodeError } from 'ldapts';
import { UnixidError } from '../../errors.js';

/** Result codes that mean "this server cannot serve you now" rather than an answer about the entry. */
const SERVER_FAILURE_CODES = new Set([
  3, // timeLimitExceeded
  51, // busy
  52, // unavailable
  80, // other (OpenLDAP uses it for internal errors such as a full database)
]);

/** The LDAP result code of an error, or undefined for transport errors (refused, timeout, TLS). */
export function resultCodeOf(err: unknown): number | undefined {
  return err instanceof ResultCodeError ? err.code : undefined;
}

/**
 * Whether an error means the server (or the way to it) failed, so the next server should be tried
 * and this one backed off. Any error that is not an LDAP result is a transport failure: connection
 * refused or reset, connect or operation timeout, certificate not trusted.
 */
export function isServerFailure(err: unknown): boolean {
  const code = resultCodeOf(err);
  return code === undefined || SERVER_FAILURE_CODES.has(code);
}

/** A one-line description for logs: result code and the server's message, or the transport error. */
export function describeError(err: unknown): string {
  if (err instanceof ResultCodeError) {
    // ldapts appends " Code: 0x31" to the server's diagnostic message, which is often empty.
    const message = err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
    return `LDAP result ${err.code} (${err.name.replace(/Error$/, '')})${message ? `: ${message}` : ''}`;
  }
  if (err instanceof UnixidError) return err.detail ?? err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
