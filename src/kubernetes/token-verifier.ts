import { constants, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { VerificationKey } from '../keys/jwk.js';
import { createVerifiedTokenCache } from './verified-token-cache.js';

/** The claims of a verified ID token, as parsed from its payload. */
export type TokenClaims = Readonly<Record<string, unknown>>;

export type VerifyResult =
  | { readonly ok: true; readonly claims: TokenClaims; readonly exp: number; readonly kid: string }
  | { readonly ok: false; readonly reason: string };

/** The TokenReview webhook's view of a token (the `TokenVerifier` seam). */
export interface TokenVerifier {
  /** Verify a compact JWS ID token; never throws: anything that is not a valid unixid token is `{ok: false, reason}`. */
  verify(token: string): VerifyResult;
}

export interface TokenVerifierOptions {
  /** Must equal the token's `iss` byte for byte (a trailing slash is another issuer). */
  issuer: string;
  /** The token's `aud` must contain at least one of these. */
  audiences: readonly string[];
  /** The current and retired public keys; read on every cache miss so that key rotation needs no restart. */
  keys: () => readonly VerificationKey[];
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /**
   * Successful verifications remembered until `exp`, once a token has been seen twice
   * (`verified-token-cache.ts`); 0 disables the cache.
   */
  cacheMaxEntries: number;
  /** Claim that must hold a string or an array of strings when present (a bad member fails the token, as in kube-apiserver). */
  groupsClaim?: string;
  /**
   * The claims the caller reads. The others are checked as always, then dropped, so that a cached
   * result keeps only these alive: a review reads 7 of an ID token's 15 or so, and a miss costs
   * ≈ 3 % less CPU (kept entries are garbage the young generation must copy). All claims when absent.
   */
  keepClaims?: readonly string[];
}

/** Bigger than any ID token unixid issues (a few hundred groups fit in 16 KiB); checked before any parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** kube-apiserver (go-oidc) allows this much clock skew on `nbf`, and none on `exp`. */
const NBF_LEEWAY_SECONDS = 60;
/**
 * Distinct JOSE headers remembered once parsed. A signing key's tokens all share one header
 * segment, so a handful covers every key in the ring; more (made-up headers) empty the memo.
 */
const HEADER_MEMO_ENTRIES = 32;

interface AlgSpec {
  hash: string;
  keyType: 'rsa' | 'ec';
  curve?: string;
  /** Raw r||s length for ECDSA (JOSE), which node must be told to expect. */
  signatureLength?: number;
  pss?: boolean;
}

/** Asymmetric signatures only: `none` and HS* are absent, so a public key can never act as an HMAC secret. */
const ALGORITHMS: Readonly<Record<string, AlgSpec>> = {
  RS256: { hash: 'sha256', keyType: 'rsa' },
  RS384: { hash: 'sha384', keyType: 'rsa' },
  RS512: { hash: 'sha512', keyType: 'rsa' },
  PS256: { hash: 'sha256', keyType: 'rsa', pss: true },
  PS384: { hash: 'sha384', keyType: 'rsa', pss: true },
  PS512: { hash: 'sha512', keyType: 'rsa', pss: true },
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1', signatureLength: 64 },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1', signatureLength: 96 },
  ES512: { hash: 'sha512', keyType: 'ec', curve: 'secp521r1', signatureLength: 132 },
};

const B64URL = /^[A-Za-z0-9_-]+$/;
/** JWT typ values an ID token may carry; access tokens (`at+jwt`) and logout tokens (`logout+jwt`) are refused. */
const ID_TOKEN_TYPES = new Set(['jwt', 'application/jwt']);

class Reject extends Error {}

function fail(reason: string): never {
  throw new Reject(reason);
}

const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether base64url-alphabet text is the one canonical encoding of its bytes: a length that is not
 * 1 mod 4, and no stray low bits in the last character (only its top 2 bits carry data when the
 * length is 2 mod 4, its top 4 when 3 mod 4). The same answer as re-encoding the decoded bytes and
 * comparing, without the copy. Exported for tests.
 */
export function canonicalTail(segment: string): boolean {
  const rem = segment.length % 4;
  if (rem === 0) return true;
  if (rem === 1) return false;
  const last = B64URL_ALPHABET.indexOf(segment[segment.length - 1]!);
  return (last & (rem === 2 ? 0x0f : 0x03)) === 0;
}

/** Strict base64url: the alphabet only, no padding, and the canonical encoding (no stray trailing bits). */
function decodeSegment(segment: string, what: string): Buffer {
  if (!B64URL.test(segment)) fail(`${what} is not base64url`);
  if (!canonicalTail(segment)) fail(`${what} is not canonical base64url`);
  return Buffer.from(segment, 'base64url');
}

function parseObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function keyMatches(key: KeyObject, spec: AlgSpec): boolean {
  if (spec.keyType === 'rsa') return key.asymmetricKeyType === 'rsa' || (spec.pss === true && key.asymmetricKeyType === 'rsa-pss');
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === spec.curve;
}

function signatureValid(spec: AlgSpec, key: KeyObject, signingInput: string, signature: Buffer): boolean {
  if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) return false;
  try {
    return verifySignature(
      spec.hash,
      Buffer.from(signingInput, 'ascii'),
      spec.keyType === 'ec'
        ? { key, dsaEncoding: 'ieee-p1363' }
        : spec.pss
          ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
          : key,
      signature,
    );
  } catch {
    // node throws for some malformed signatures (e.g. an RSA signature longer than the modulus).
    return false;
  }
}

/** Only the named claims of a payload (those it has). */
function kept(claims: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (Object.hasOwn(claims, name)) out[name] = claims[name];
  return out;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * Build the webhook's verifier: the checks kube-apiserver makes on an ID token (alg, signature by a
 * published key, exact `iss`, `aud`, `exp` without leeway, `nbf` with 60 s), done locally with
 * node:crypto, and successful results cached until `exp` (bound to the token by its SHA-256, from
 * the second time it is seen). Never throws.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const audiences = new Set(options.audiences);
  const groupsClaim = options.groupsClaim ?? 'groups';
  const keep = options.keepClaims;
  type Success = Extract<VerifyResult, { ok: true }>;

  function findKey(kid: string): VerificationKey | undefined {
    return options.keys().find((k) => k.kid === kid);
  }

  // Parsing is all that is remembered: every check on the header still runs on every token.
  const headers = new Map<string, Readonly<Record<string, unknown>>>();
  function headerOf(segment: string): Readonly<Record<string, unknown>> {
    const known = headers.get(segment);
    if (known) return known;
    const header = Object.freeze(parseObject(decodeSegment(segment, 'header'), 'header'));
    if (headers.size >= HEADER_MEMO_ENTRIES) headers.clear();
    headers.set(segment, header);
    return header;
  }

  // A cached result is only as good as its expiry and its key: a removed key ends it too.
  const cache = createVerifiedTokenCache<Success>({ maxEntries: options.cacheMaxEntries, now, usable: (r) => findKey(r.kid) !== undefined });

  function check(token: string, nowMs: number): Success {
    if (token.length > MAX_TOKEN_LENGTH) fail(`token longer than ${MAX_TOKEN_LENGTH} characters`);
    const parts = token.split('.');
    if (parts.length !== 3) fail(`not a compact JWS (${parts.length} parts)`);
    const [h, p, s] = parts as [string, string, string];
    const header = headerOf(h);

    const alg = header.alg;
    if (typeof alg !== 'string') fail('header has no alg');
    const spec = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
    if (!spec) fail(`alg ${JSON.stringify(alg).slice(0, 20)} not allowed`);
    // We understand no JWS extensions, so any critical one must be refused (RFC 7515 §4.1.11).
    if (header.crit !== undefined) fail('header has crit');
    if (header.typ !== undefined && (typeof header.typ !== 'string' || !ID_TOKEN_TYPES.has(header.typ.toLowerCase()))) fail('typ is not an ID token type');
    const kid = header.kid;
    if (typeof kid !== 'string' || kid === '') fail('header has no kid');
    const key = findKey(kid);
    if (!key) fail('unknown kid');
    // The key decides the algorithm, never the token: an RS256 header on an EC key's kid is refused.
    if (key.alg !== alg || !keyMatches(key.key, spec)) fail(`alg ${alg} does not match key ${kid} (${key.alg})`);

    const signature = decodeSegment(s, 'signature');
    if (!signatureValid(spec, key.key, token.slice(0, h.length + 1 + p.length), signature)) fail('bad signature');

    const claims = parseObject(decodeSegment(p, 'payload'), 'payload');
    if (claims.iss !== options.issuer) fail('issuer mismatch');
    const aud = claims.aud;
    const auds = typeof aud === 'string' ? [aud] : isStringArray(aud) ? aud : fail('aud missing or malformed');
    if (!auds.some((a) => audiences.has(a))) fail('audience mismatch');
    const exp = claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) fail('exp missing or not a number');
    if (nowMs >= exp * 1000) fail('expired');
    const nbf = claims.nbf;
    if (nbf !== undefined) {
      if (typeof nbf !== 'number' || !Number.isFinite(nbf)) fail('nbf not a number');
      if (nowMs + NBF_LEEWAY_SECONDS * 1000 < nbf * 1000) fail('not yet valid (nbf)');
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') fail('sub missing');
    const groups = claims[groupsClaim];
    if (groups !== undefined && typeof groups !== 'string' && !isStringArray(groups)) fail(`${groupsClaim} claim is not a string or an array of strings`);

    return Object.freeze({ ok: true as const, claims: Object.freeze(keep ? kept(claims, keep) : claims), exp, kid });
  }

  return {
    verify(token) {
      if (typeof token !== 'string') return { ok: false, reason: 'token is not a string' };
      // Oversized input is refused before anything else is done with it.
      if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: `token longer than ${MAX_TOKEN_LENGTH} characters` };
      const nowMs = now();
      const cached = cache.lookup(token, nowMs);
      if (cached) return cached;
      try {
        const result = check(token, nowMs);
        cache.admit(token, result);
        return result;
      } catch (err) {
        if (err instanceof Reject) return { ok: false, reason: err.message };
        return { ok: false, reason: `verification failed: ${(err as Error)?.message ?? String(err)}` };
      }
    },
  };
}
