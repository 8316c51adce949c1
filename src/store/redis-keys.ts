import { createHash } from 'node:crypto';

/**
 * The storage layout both adapters share. The memory adapter uses the same key names (without a
 * prefix) so that the two behave alike and one conformance suite can inspect either.
 *
 *   <prefix><Model>:<id>     the record: a hash { payload: JSON, consumed?: epoch seconds }
 *   <prefix>grant:<grantId>  set of record keys issued under a grant; TTL = its longest member
 *   <prefix>uid:<uid>        Session.uid -> session id
 *   <prefix>userCode:<code>  DeviceCode.userCode -> device code id
 *
 * Only Session, DeviceCode and the GRANT_MEMBER_MODELS have index entries (see hasIndexEntries).
 *
 * Beside the adapter, the device-code poll gate (device-poll-gate.ts) keeps, only for device codes
 * oidc-provider has answered authorization_pending (real, pending, the authenticated client's)
 *   <prefix>devicePoll:<sha256 of the device code, base64url>  "<last poll ms> <interval ms>"
 */

/** Models whose records join their grant's member set, so that revoking the grant removes them. */
export const GRANT_MEMBER_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'ClientCredentials',
  'PreAuthorizedCode',
]);

/** Only sessions are looked up by uid; other models (Interaction, Account) may carry an unrelated `uid`. */
export const UID_INDEXED_MODEL = 'Session';

/** Only device codes are looked up by userCode (oidc-provider's one findByUserCode caller). */
export const USER_CODE_INDEXED_MODEL = 'DeviceCode';

/**
 * Whether records of `model` can have index entries (uid, userCode, grant membership). Records of
 * any other model (Interaction, Grant, Account, ...) are only their own key, so destroying one
 * needs no read of its payload first.
 */
export function hasIndexEntries(model: string): boolean {
  return model === UID_INDEXED_MODEL || model === USER_CODE_INDEXED_MODEL || GRANT_MEMBER_MODELS.has(model);
}

/** Key of one record of `model`. */
export function recordKey(prefix: string, model: string, id: string): string {
  return `${prefix}${model}:${id}`;
}

/** Key of the member set of a grant. */
export function grantKey(prefix: string, grantId: string): string {
  return `${prefix}grant:${grantId}`;
}

/** Key of the Session.uid index entry. */
export function uidKey(prefix: string, uid: string): string {
  return `${prefix}uid:${uid}`;
}

/** Key of the userCode index entry. */
export function userCodeKey(prefix: string, userCode: string): string {
  return `${prefix}userCode:${userCode}`;
}

/**
 * Key of the poll record of a device code. The code is a bearer secret until it is redeemed, so
 * only its SHA-256 appears in the key. Never throws.
 */
export function devicePollKey(prefix: string, deviceCode: string): string {
  return `${prefix}devicePoll:${createHash('sha256').update(deviceCode, 'utf8').digest('base64url')}`;
}

/**
 * Milliseconds to keep a record for, from oidc-provider's `expiresIn` (seconds, possibly
 * fractional). Throws when there is none: unixid never stores a key without a TTL, and every
 * model unixid uses has one (dynamic client registration, the one TTL-less write, is off).
 */
export function ttlMillis(model: string, expiresIn: number | undefined): number {
  if (typeof expiresIn !== 'number' || Number.isNaN(expiresIn) || expiresIn === Infinity) {
    throw new TypeError(`${model}.upsert called without a finite expiresIn; unixid stores nothing without a TTL`);
  }
  return Math.ceil(expiresIn * 1000);
}
