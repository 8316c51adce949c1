import type { Identity } from '../identity.js';

/** Claims unixid puts in ID tokens (and userinfo), by scope. `openid` carries what Kubernetes needs. */
export const SCOPE_CLAIMS = {
  openid: ['sub', 'preferred_username', 'name', 'groups', 'uid_number', 'gid_number', 'grant_id'],
  profile: ['preferred_username', 'name'],
  groups: ['groups'],
  email: ['email', 'email_verified'],
} as const;

export const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'groups'] as const;

/** The claim set of an identity; the one place where an Identity becomes token claims. */
export function claimsOf(identity: Identity): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: identity.subject,
    preferred_username: identity.username,
    groups: [...identity.groups],
  };
  if (identity.name) claims.name = identity.name;
  if (identity.uid !== undefined) claims.uid_number = identity.uid;
  if (identity.gid !== undefined) claims.gid_number = identity.gid;
  if (identity.email) {
    claims.email = identity.email;
    // The directory is the authority on its own mail attribute; Kubernetes requires a JSON boolean here.
    claims.email_verified = true;
  }
  return claims;
}
