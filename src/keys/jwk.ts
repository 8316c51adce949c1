import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/** A private signing JWK as oidc-provider's `jwks` option takes it. */
export type PrivateJwk = JsonWebKey & { kid: string; alg: string; use?: string };

/** A public key ready for local verification (TokenReview), by kid. */
export interface VerificationKey {
  kid: string;
  alg: string;
  key: KeyObject;
}

/** RFC 7638 thumbprint of a public key; used as the `kid` so every replica derives the same one. */
export function thumbprint(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** The JWS algorithm a key signs with by default (RS256 for RSA, ES256/384/512 by curve). Throws for other kinds. */
export function defaultAlg(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType ?? 'unknown'}: use RSA or EC (P-256/384/521)`);
}

/** Describe a private KeyObject as a signing JWK with kid, alg and use. */
export function toPrivateJwk(key: KeyObject, alg = defaultAlg(key)): PrivateJwk {
  return { ...key.export({ format: 'jwk' }), kid: thumbprint(key), alg, use: 'sig' };
}

/** The public half of a signing JWK, as a KeyObject for node:crypto verification. */
export function toVerificationKey(jwk: PrivateJwk): VerificationKey {
  const priv = createPrivateKey({ key: jwk, format: 'jwk' });
  return { kid: jwk.kid, alg: jwk.alg, key: createPublicKey(priv) };
}
