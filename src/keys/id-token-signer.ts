import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { PrivateJwk } from './jwk.js';

/** Signs unixid ID tokens outside an OIDC flow (the basic-auth token endpoint). */
export interface IdTokenSigner {
  /** Sign `claims` (iss, aud, iat, exp included by the caller) with the current signing key. Throws when no key fits. */
  sign(claims: Record<string, unknown>): string;
}

const HASH: Record<string, string> = { RS256: 'sha256', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512', PS256: 'sha256' };

/**
 * A signer over the provider's own keys, picking the key oidc-provider signs ID tokens with (the
 * first RS256 key), so these tokens verify exactly like flow-issued ones at the apiserver.
 */
export function createIdTokenSigner(keys: () => readonly PrivateJwk[]): IdTokenSigner {
  const cache = new WeakMap<PrivateJwk, KeyObject>();
  return {
    sign(claims) {
      const jwk = keys().find((k) => k.alg === 'RS256') ?? keys()[0];
      if (!jwk) throw new Error('no signing key is loaded');
      let key = cache.get(jwk);
      if (!key) {
        key = createPrivateKey({ key: jwk, format: 'jwk' });
        cache.set(jwk, key);
      }
      const header = Buffer.from(JSON.stringify({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })).toString('base64url');
      const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
      const input = `${header}.${payload}`;
      const ec = jwk.alg.startsWith('ES');
      const signature = sign(HASH[jwk.alg] ?? 'sha256', Buffer.from(input), ec ? { key, dsaEncoding: 'ieee-p1363' } : key);
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}
