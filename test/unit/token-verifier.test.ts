import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import type { VerificationKey } from '../../src/keys/jwk.js';
import fc from 'fast-check';
import { canonicalTail, createTokenVerifier, type TokenVerifierOptions } from '../../src/kubernetes/token-verifier.js';

const ISSUER = 'https://id.example.test';
const AUD = 'kubernetes';
const NOW = 1_750_000_000_000; // fixed clock, ms

// Generated per run; never committed.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOld = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const RSA_KEY: VerificationKey = { kid: 'rsa-1', alg: 'RS256', key: rsa.publicKey };
const OLD_KEY: VerificationKey = { kid: 'rsa-0', alg: 'RS256', key: rsaOld.publicKey };
const EC_KEY: VerificationKey = { kid: 'ec-1', alg: 'ES256', key: ec.publicKey };

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const t = Math.floor(NOW / 1000);
  return { iss: ISSUER, aud: AUD, sub: 'u-1000', preferred_username: 'alice', groups: ['dev'], iat: t, exp: t + 600, grant_id: 'g1', ...over };
}

function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const alg = header.alg as string;
  const sig = alg.startsWith('ES')
    ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}

const rs256 = (payload = claims(), kid = 'rsa-1', key = rsa.privateKey) => signJwt({ alg: 'RS256', kid, typ: 'JWT' }, payload, key);
const es256 = (payload = claims()) => signJwt({ alg: 'ES256', kid: 'ec-1' }, payload, ec.privateKey);

function verifier(over: Partial<TokenVerifierOptions> = {}) {
  let now = NOW;
  let keys: readonly VerificationKey[] = [RSA_KEY, EC_KEY, OLD_KEY];
  const v = createTokenVerifier({ issuer: ISSUER, audiences: [AUD], keys: () => keys, now: () => now, cacheMaxEntries: 100, ...over });
  return {
    v,
    setNow: (ms: number) => (now = ms),
    setKeys: (k: readonly VerificationKey[]) => (keys = k),
  };
}

function rejects(token: string, pattern: RegExp, v = verifier().v): void {
  const r = v.verify(token);
  assert.equal(r.ok, false, `expected rejection matching ${pattern}`);
  if (!r.ok) assert.match(r.reason, pattern);
}

describe('token verifier', () => {
  it('accepts a valid RS256 token and returns claims, exp and kid', () => {
    const r = verifier().v.verify(rs256());
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(r.kid, 'rsa-1');
    assert.equal(r.exp, Math.floor(NOW / 1000) + 600);
    assert.equal(r.claims.preferred_username, 'alice');
    assert.deepEqual(r.claims.groups, ['dev']);
  });

  it('accepts a valid ES256 (JOSE r||s) token', () => {
    const r = verifier().v.verify(es256());
    assert.equal(r.ok, true);
    if (r.ok) assert.equal(r.kid, 'ec-1');
  });

  it('rejects a DER-encoded ES256 signature', () => {
    const input = `${b64({ alg: 'ES256', kid: 'ec-1' })}.${b64(claims())}`;
    const der = sign('sha256', Buffer.from(input), ec.privateKey);
    rejects(`${input}.${der.toString('base64url')}`, /bad signature/);
  });

  it('rejects an expired token, with no leeway', () => {
    const t = Math.floor(NOW / 1000);
    rejects(rs256(claims({ exp: t - 1 })), /expired/);
    rejects(rs256(claims({ exp: t })), /expired/);
  });

  it('requires exp', () => {
    const c = claims();
    delete c.exp;
    rejects(rs256(c), /exp missing/);
    rejects(rs256(claims({ exp: '9999999999' })), /exp missing/);
  });

  it('allows nbf within 60 s of skew and rejects it beyond', () => {
    const t = Math.floor(NOW / 1000);
    assert.equal(verifier().v.verify(rs256(claims({ nbf: t + 30 }))).ok, true);
    rejects(rs256(claims({ nbf: t + 120 })), /nbf/);
  });

  it('requires the exact issuer (a trailing slash is another issuer)', () => {
    rejects(rs256(claims({ iss: 'https://other.example.test' })), /issuer/);
    rejects(rs256(claims({ iss: `${ISSUER}/` })), /issuer/);
    const c = claims();
    delete c.iss;
    rejects(rs256(c), /issuer/);
  });

  it('requires one of the audiences, as a string or in an array', () => {
    rejects(rs256(claims({ aud: 'other-client' })), /audience/);
    rejects(rs256(claims({ aud: ['a', 'b'] })), /audience/);
    rejects(rs256(claims({ aud: [AUD, 7] })), /aud/);
    assert.equal(verifier().v.verify(rs256(claims({ aud: ['other', AUD] }))).ok, true);
  });

  it('treats an unknown kid as not ours, and requires a kid', () => {
    rejects(rs256(claims(), 'nope'), /unknown kid/);
    rejects(signJwt({ alg: 'RS256' }, claims(), rsa.privateKey), /no kid/);
  });

  it('refuses alg none', () => {
    const token = `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims())}.`;
    rejects(token, /not allowed|base64url/);
    rejects(`${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims())}.${b64('x')}`, /not allowed/);
  });

  it('refuses HS256 "signed" with the public key PEM as the secret', () => {
    const pem = createPublicKey(rsa.privateKey).export({ type: 'spki', format: 'pem' }) as string;
    const input = `${b64({ alg: 'HS256', kid: 'rsa-1' })}.${b64(claims())}`;
    const mac = createHmac('sha256', pem).update(input).digest('base64url');
    rejects(`${input}.${mac}`, /not allowed/);
  });

  it('refuses an alg that does not match the key named by kid', () => {
    // RS256 header pointing at the EC key.
    rejects(signJwt({ alg: 'RS256', kid: 'ec-1' }, claims(), rsa.privateKey), /does not match/);
    // ES256 header pointing at the RSA key.
    rejects(signJwt({ alg: 'ES256', kid: 'rsa-1' }, claims(), ec.privateKey), /does not match/);
    // A key whose declared alg disagrees with its type is refused too.
    const v = verifier({ keys: () => [{ kid: 'odd', alg: 'ES256', key: rsa.publicKey }] }).v;
    rejects(signJwt({ alg: 'ES256', kid: 'odd' }, claims(), ec.privateKey), /does not match/, v);
  });

  it('rejects a tampered payload', () => {
    const [h, , s] = rs256().split('.');
    rejects(`${h}.${b64(claims({ preferred_username: 'root' }))}.${s}`, /bad signature/);
  });

  it('rejects a 1 MB token before parsing it', () => {
    rejects('a'.repeat(1024 * 1024), /longer than/);
    const big = rs256(claims({ padding: 'x'.repeat(20_000) }));
    rejects(big, /longer than/);
  });

  it('rejects non-base64url segments and non-canonical encodings', () => {
    const [h, p, s] = rs256().split('.') as [string, string, string];
    rejects(`${h}.${p}.${s.slice(0, -4)}+/==`, /base64url/);
    rejects(`${h}=.${p}.${s}`, /base64url/);
    rejects(`${h}.${p}.${s} `, /base64url/);
    rejects('not a token', /parts/);
    rejects(`${b64('not json')}.${p}.${s}`, /not JSON/);
    rejects(`${b64([1, 2])}.${p}.${s}`, /not a JSON object/);
  });

  it('rejects a signature whose last character carries stray bits', () => {
    const [h, p, s] = rs256().split('.') as [string, string, string];
    // A 2048-bit signature is 256 bytes: 342 characters, 2 mod 4, so the last one has 4 unused low bits.
    assert.equal(s.length % 4, 2);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const stray = alphabet[alphabet.indexOf(s.at(-1)!) | 1]!;
    rejects(`${h}.${p}.${s.slice(0, -1)}${stray}`, /not canonical base64url/);
  });

  it('judges canonical base64url exactly as re-encoding the decoded bytes does', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('');
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }), (chars) => {
        const text = chars.join('');
        assert.equal(canonicalTail(text), Buffer.from(text, 'base64url').toString('base64url') === text);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects 2-part and 4-part tokens', () => {
    const [h, p, s] = rs256().split('.');
    rejects(`${h}.${p}`, /2 parts/);
    rejects(`${h}.${p}.${s}.${s}`, /4 parts/);
    rejects('', /1 parts/);
  });

  it('rejects a groups claim with a non-string member, accepts a single string', () => {
    rejects(rs256(claims({ groups: ['dev', 42] })), /groups/);
    rejects(rs256(claims({ groups: { a: 1 } })), /groups/);
    assert.equal(verifier().v.verify(rs256(claims({ groups: 'dev' }))).ok, true);
  });

  it('refuses JWTs typed as something other than an ID token', () => {
    rejects(signJwt({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' }, claims(), rsa.privateKey), /typ/);
    rejects(signJwt({ alg: 'RS256', kid: 'rsa-1', crit: ['exp'] }, claims(), rsa.privateKey), /crit/);
  });

  it('caches a success from its second sight: the same result object until exp, then rejects it', () => {
    const { v, setNow } = verifier();
    const token = rs256(claims({ exp: Math.floor(NOW / 1000) + 60 }));
    const once = v.verify(token);
    assert.equal(once.ok, true);
    const first = v.verify(token);
    assert.equal(first.ok, true);
    assert.notEqual(first, once, 'a first sight is verified and only noted, not cached');
    assert.equal(v.verify(token), first, 'a cache hit returns the same result');
    setNow(NOW + 59_000);
    assert.equal(v.verify(token), first);
    setNow(NOW + 60_000);
    const late = v.verify(token);
    assert.equal(late.ok, false);
    if (!late.ok) assert.match(late.reason, /expired/);
  });

  it('keeps only the named claims when asked, after checking all of them', () => {
    const { v } = verifier({ keepClaims: ['preferred_username', 'groups', 'uid_number'] });
    const r = v.verify(rs256(claims({ name: 'Alice A.', email: 'alice@example.test' })));
    assert.equal(r.ok, true);
    if (!r.ok) return;
    // uid_number is named but absent: it is not invented.
    assert.deepEqual(r.claims, { preferred_username: 'alice', groups: ['dev'] });
    assert.equal(r.exp, Math.floor(NOW / 1000) + 600);
    assert.ok(Object.isFrozen(r.claims));
    // Claims that are not kept are still checked: issuer, audience, expiry, the groups claim's type.
    rejects(rs256(claims({ iss: `${ISSUER}/` })), /issuer/, v);
    rejects(rs256(claims({ aud: 'other' })), /audience/, v);
    rejects(rs256(claims({ exp: Math.floor(NOW / 1000) - 1 })), /expired/, v);
    rejects(rs256(claims({ groups: ['dev', 7] })), /groups/, v);
  });

  it('keeps the cache bounded and still verifies evicted tokens', () => {
    const { v } = verifier({ cacheMaxEntries: 2 });
    const tokens = [1, 2, 3].map((n) => rs256(claims({ sub: `u-${n}` })));
    const results = tokens.map((t) => [v.verify(t), v.verify(t)][1]!);
    assert.ok(results.every((r) => r.ok));
    assert.equal(v.verify(tokens[2]!), results[2], 'the newest entry is cached');
    assert.notEqual(v.verify(tokens[0]!), results[0], 'the oldest entry was evicted and re-verified');
    assert.equal(v.verify(tokens[0]!).ok, true);
  });

  it('admits a token to the cache only when it comes back while its first sight is still remembered', () => {
    const { v } = verifier({ cacheMaxEntries: 2 });
    const [a, b, c] = [1, 2, 3].map((n) => rs256(claims({ sub: `u-${n}` }))) as [string, string, string];
    // Seen once each: nothing cached, and only the last two sights are remembered (as many as the cache holds).
    for (const t of [a, b, c]) assert.equal(v.verify(t).ok, true);
    // a's first sight was forgotten: this is a first sight again, so a is still not cached...
    const a1 = v.verify(a);
    const a2 = v.verify(a);
    assert.notEqual(a2, a1, 'a came back after its first sight was forgotten: not cached then');
    // ...but this time its sight was remembered, so the second one cached it.
    assert.equal(v.verify(a), a2, 'cached from the sight after a remembered one');
    // c was still remembered from the first round: its next sight caches it at once.
    const c2 = v.verify(c);
    assert.equal(v.verify(c), c2);
    // A refused token is refused every time: refusals are never cached.
    const bad = rs256(claims({ aud: 'other' }));
    for (let i = 0; i < 3; i++) rejects(bad, /audience/, v);
  });

  it('never serves a cached result to another token that ends the same way', () => {
    const { v } = verifier();
    const token = rs256();
    v.verify(token);
    const cached = v.verify(token);
    assert.equal(v.verify(token), cached, 'cached');
    // Same signature (so the same last characters), another payload: the cache must not answer for it.
    const [h, , s] = token.split('.');
    const forged = `${h}.${b64(claims({ sub: 'u-0', preferred_username: 'root' }))}.${s}`;
    for (let i = 0; i < 3; i++) rejects(forged, /bad signature/, v);
    // Nor any token that merely ends like it.
    rejects(`${h}.${b64(claims())}.${'A'.repeat(330)}${s!.slice(-12)}`, /bad signature/, v);
    assert.equal(v.verify(token), cached, 'and the cached token is still a hit');
  });

  it('works with the cache disabled', () => {
    const { v } = verifier({ cacheMaxEntries: 0 });
    const token = rs256();
    assert.equal(v.verify(token).ok, true);
    assert.equal(v.verify(token).ok, true);
  });

  it('follows key rotation: a retired key still listed verifies, a removed key does not (even when cached)', () => {
    const { v, setKeys } = verifier();
    const oldToken = rs256(claims(), 'rsa-0', rsaOld.privateKey);
    assert.equal(v.verify(oldToken).ok, true);
    // A new key appears: picked up without rebuilding the verifier.
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    setKeys([{ kid: 'rsa-2', alg: 'RS256', key: next.publicKey }, RSA_KEY, OLD_KEY]);
    assert.equal(v.verify(rs256(claims(), 'rsa-2', next.privateKey)).ok, true);
    assert.equal(v.verify(oldToken).ok, true);
    setKeys([RSA_KEY]);
    const gone = v.verify(oldToken);
    assert.equal(gone.ok, false);
    if (!gone.ok) assert.match(gone.reason, /unknown kid/);
  });

  it('judges every token by its own header, however many distinct headers come (parsed headers are remembered)', () => {
    const { v } = verifier({ cacheMaxEntries: 0 });
    // More distinct headers than are remembered, twice round: the memo fills, empties and refills.
    // RSA and EC keys take turns, so a header mixed up with another one fails its signature.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 80; i++) {
        const header = i % 2 === 0 ? { alg: 'RS256', kid: 'rsa-1', n: i } : { alg: 'ES256', kid: 'ec-1', n: i };
        const r = v.verify(signJwt(header, claims({ sub: `u-${i}` }), i % 2 === 0 ? rsa.privateKey : ec.privateKey));
        assert.equal(r.ok, true, `header ${i}, round ${round}`);
        if (r.ok) assert.deepEqual([r.kid, r.claims.sub], [header.kid, `u-${i}`]);
      }
    }
    rejects(signJwt({ alg: 'ES256', kid: 'rsa-1' }, claims(), ec.privateKey), /does not match key/, v);
    // A remembered header says nothing about the rest: the signature and claims are checked each time.
    const good = rs256();
    assert.equal(v.verify(good).ok, true);
    rejects(rs256(claims(), 'rsa-1', rsaOld.privateKey), /bad signature/, v);
    rejects(rs256(claims({ iss: 'https://other.example.test' })), /issuer/, v);
    const [h, p] = good.split('.');
    rejects(`${h}.${p}.${'A'.repeat(342)}`, /bad signature/, v);
  });
});
