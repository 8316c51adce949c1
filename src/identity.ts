/**
 * The one shape every credential backend returns. Token claims, the kubeconfig page and the
 * TokenReview answer are all derived from it in one place (src/oidc/claims.ts).
 */
export interface Identity {
  /** Stable, opaque, never reused for another person. Becomes the OIDC `sub` and the account id. */
  subject: string;
  /** The login name (`preferred_username`). */
  username: string;
  /** Numeric Unix uid, when the account has one. */
  uid?: number;
  /** Primary Unix gid, when the account has one. */
  gid?: number;
  /** Display name (GECOS full-name field, or LDAP cn/displayName). */
  name?: string;
  email?: string;
  /** Group names after the configured include/exclude/prefix filters. */
  groups: string[];
  /** Which backend vouched for this identity (`pam`, `ldap`). */
  backend: string;
  /** LDAP entry DN, for backends that have one; refresh requires it unchanged. */
  dn?: string;
}

/**
 * What unixid remembers about an account between a login and its refreshes: enough for the
 * backend that logged it in to find it again and check it is still the same person.
 */
export interface AccountRef {
  subject: string;
  username: string;
  backend: string;
  uid?: number;
  dn?: string;
}

/** The part of an Identity that is kept as its AccountRef. */
export function accountRefOf(identity: Identity): AccountRef {
  const ref: AccountRef = { subject: identity.subject, username: identity.username, backend: identity.backend };
  if (identity.uid !== undefined) ref.uid = identity.uid;
  if (identity.dn !== undefined) ref.dn = identity.dn;
  return ref;
}
