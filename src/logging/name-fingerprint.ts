import { createHmac, randomBytes } from 'node:crypto';

/**
 * A stand-in for a login name the backend did not recognise. People type their password into the
 * username field; logging that name in clear would put a password in every log store. The
 * fingerprint is keyed (HMAC-SHA256), so a log reader cannot test guesses against it offline the
 * way they could against a plain hash, yet the same name gives the same fingerprint in every
 * replica sharing the key, so repeated attempts still correlate.
 */
export type NameFingerprint = (name: string) => string;

/**
 * Fingerprints under a key derived from `secret` (unixid passes its first cookie key, which every
 * replica shares; the derivation keeps the two uses apart). Without a secret, a random per-process
 * key: fingerprints then only correlate within one process.
 */
export function createNameFingerprint(secret?: string | Buffer): NameFingerprint {
  const key = createHmac('sha256', secret ?? randomBytes(32))
    .update('unixid login-name fingerprint v1')
    .digest();
  return (name) => createHmac('sha256', key).update(name, 'utf8').digest('base64url').slice(0, 16);
}
