// Issue 6 part 7, property-based tests (fast-check), bounded so CI stays fast: each property runs at
// most RUNS cases and stops early (passing) when its time budget is spent. They pin the contracts
// the bad-input catalogue relies on for inputs nobody thought of:
//   - the config loader rejects only with ConfigError, whatever YAML, environment or flags it gets,
//     and never writes through `__proto__`;
//   - the TokenReview parser, the claim mapping, the verifier and the whole webhook route never
//     throw or answer 5xx, and nothing that is not signed by a published key authenticates;
//   - usernames with control characters or over 256 bytes never reach a backend, and the throttle
//     counts case and width variants of a name together.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import fc from 'fast-check';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import { MAX_USERNAME_BYTES, usernameProblem } from '../../src/backends/username.js';
import { ENV_VARS } from '../../src/config/env.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { mapUser, parseTokenReview } from '../../src/kubernetes/token-review.js';
import { tokenReviewRoutes } from '../harness/token-review.js';
import { createTokenVerifier } from '../../src/kubernetes/token-verifier.js';
import { throttleUsername } from '../../src/store/throttle-subject.js';

const RUNS = 200;
/** Per property; fast-check stops generating (and passes) once it is spent. */
const BUDGET_MS = 8_000;
const opts = { numRuns: RUNS, interruptAfterTimeLimit: BUDGET_MS };
/** Generated cases actually run, over every property (printed at the end for the README). */
let cases = 0;
let properties = 0;
after(() => console.log(`fuzz: ${properties} properties, ${cases} generated cases (at most ${RUNS} per property, ${BUDGET_MS / 1000} s budget each)`));

const ISSUER = 'https://id.example.test';
const NOW = 1_750_000_000_000;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'fuzz-key';

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
/** A compact RS256 JWS over raw header and payload text (JSON or not), signed by `key`. */
function sign(headerText: string, payloadText: string, key: KeyObject): string {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
const validClaims = () => ({ iss: ISSUER, aud: 'kubernetes', sub: 's-1', preferred_username: 'alice', groups: ['dev'], iat: NOW / 1000, exp: NOW / 1000 + 600 });

const verifier = () => createTokenVerifier({ issuer: ISSUER, audiences: ['kubernetes'], keys: () => [{ kid: KID, alg: 'RS256', key: rsa.publicKey }], now: () => NOW, cacheMaxEntries: 100 });

/** Config keys to build trees from: real section and key names, the prototype's names, and noise. */
const keyName = fc.oneof(
  fc.constantFrom('issuer', 'server', 'port', 'host', 'tls', 'store', 'redisUrl', 'keys', 'source', 'tokens', 'idTokenSeconds', 'backend', 'type', 'pam', 'ldap', 'urls', 'kubernetes', 'clients', 'client_id', 'redirect_uris', 'throttle', 'username', 'maxFailures', 'observability', 'logging', 'level', 'groups', 'nss', 'dataDir'),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  fc.string({ maxLength: 12 }),
);
const leaf = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('http://x', 'redis://127.0.0.1:1', '-1', '1e309', 'NaN', 'true', ''));
const configTree = fc.letrec((tie) => ({
  tree: fc.dictionary(keyName, fc.oneof({ depthSize: 'small' }, leaf, tie('tree'), fc.array(fc.oneof(leaf, tie('tree')), { maxLength: 3 })), { maxKeys: 6 }),
})).tree;

/** Resolves a Config or rejects with ConfigError: anything else thrown is a loader bug. */
async function loadsOrConfigError(sources: Parameters<typeof loadConfig>[0]): Promise<void> {
  try {
    const config = await loadConfig(sources);
    assert.equal(typeof config.issuer, 'string');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`loadConfig threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.ok(err.problems.length > 0, 'a ConfigError names at least one problem');
  }
  const leaked = Object.keys(Object.prototype);
  // Cleaned up before failing, so one pollution does not spoil every later property.
  for (const k of leaked) delete (Object.prototype as Record<string, unknown>)[k];
  assert.deepEqual(leaked, [], 'Object.prototype untouched');
}

describe('fuzz: config loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unixid-fuzz-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a YAML file of arbitrary mappings: a Config or a ConfigError, nothing else', async () => {
    let n = 0;
    properties++;
    await fc.assert(
      fc.asyncProperty(configTree, async (tree) => {
        cases++;
        const file = join(dir, `c${n++}.yaml`);
        await writeFile(file, toYaml(tree));
        await loadsOrConfigError({ file, env: {} });
      }),
      opts,
    );
  });

  it('a YAML file of arbitrary text: a Config or a ConfigError', async () => {
    let n = 0;
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('{', '[1,2', '&a [*a]', 'a: *x', '!!js/function "x"', '--- !<tag:yaml.org,2002:python/object> {}', 'a: b\n\tc: d', '\uFEFFissuer: 1', 'x: &a\n  y: *a'));
    properties++;
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        cases++;
        const file = join(dir, `t${n++}.yaml`);
        await writeFile(file, t);
        await loadsOrConfigError({ file, env: {} });
      }),
      opts,
    );
  });

  it('arbitrary UNIXID_* environments: a Config or a ConfigError', async () => {
    const names = ENV_VARS.map((v) => v.name);
    const value = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('0', '-1', '65536', 'true', 'off', 'yes', ',,,', ' ', 'NaN', '1e3', 'redis://', 'http://a b'));
    properties++;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 8 }), async (env) => {
        cases++;
        await loadsOrConfigError({ env });
      }),
      opts,
    );
  });

  it('arbitrary --set flags (dotted paths, JSON values): a Config or a ConfigError, and no prototype pollution', async () => {
    const path = fc.array(keyName, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
    const flags = fc.dictionary(path, fc.oneof(leaf, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 5 });
    // The classic: a path through __proto__ must not reach Object.prototype.
    await loadsOrConfigError({ env: {}, flags: { '__proto__.polluted': 'yes', 'constructor.prototype.polluted': 'yes' } });
    properties++;
    await fc.assert(
      fc.asyncProperty(flags, async (f) => {
        cases++;
        await loadsOrConfigError({ env: {}, flags: f });
      }),
      opts,
    );
  });
});

describe('fuzz: TokenReview', () => {
  it('parseTokenReview never throws and accepts only well-formed reviews', () => {
    properties++;
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (body) => {
        cases++;
        const r = parseTokenReview(body);
        if (r.ok) {
          assert.equal(typeof r.token, 'string');
          assert.ok(r.apiVersion === 'authentication.k8s.io/v1' || r.apiVersion === 'authentication.k8s.io/v1beta1');
          assert.ok(r.audiences.every((a) => typeof a === 'string'));
        } else {
          assert.equal(typeof r.reason, 'string');
        }
      }),
      opts,
    );
    // And reviews shaped like the real thing, with arbitrary parts: accepted exactly when well-formed.
    const review = fc.record({
      apiVersion: fc.oneof(fc.constantFrom('authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'), fc.jsonValue()),
      kind: fc.oneof(fc.constant('TokenReview'), fc.jsonValue()),
      spec: fc.oneof(fc.record({ token: fc.oneof(fc.string(), fc.jsonValue()), audiences: fc.option(fc.oneof(fc.array(fc.string()), fc.jsonValue()), { nil: undefined }) }), fc.jsonValue()),
    });
    const wellFormed = (b: { apiVersion: unknown; kind: unknown; spec: unknown }): boolean => {
      const spec = b.spec as { token?: unknown; audiences?: unknown } | null;
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return false;
      const audiences = spec.audiences ?? [];
      return (
        (b.apiVersion === 'authentication.k8s.io/v1' || b.apiVersion === 'authentication.k8s.io/v1beta1') &&
        b.kind === 'TokenReview' &&
        typeof spec.token === 'string' &&
        Array.isArray(audiences) &&
        audiences.every((a) => typeof a === 'string')
      );
    };
    properties++;
    fc.assert(
      fc.property(review, (body) => {
        cases++;
        assert.equal(parseTokenReview(body).ok, wellFormed(body));
      }),
      opts,
    );
  });

  it('mapUser never throws, never yields a system: user or group, and keeps groups strings', () => {
    const claims = fc.dictionary(fc.oneof(fc.constantFrom('preferred_username', 'groups', 'sub', 'uid_number', 'gid_number', 'email'), fc.string()), fc.jsonValue());
    const mapping = fc.record({
      usernameClaim: fc.constantFrom('preferred_username', 'sub', 'email'),
      usernamePrefix: fc.oneof(fc.constant(''), fc.constantFrom('unix:', 'system:', '-'), fc.string({ maxLength: 8 })),
      groupsClaim: fc.constantFrom('groups', 'roles'),
      groupsPrefix: fc.oneof(fc.constant(''), fc.constantFrom('unix:', 'system:'), fc.string({ maxLength: 8 })),
    });
    properties++;
    fc.assert(
      fc.property(claims, mapping, (c, m) => {
        cases++;
        const r = mapUser(c, m);
        if (!r.ok) return;
        assert.ok(!r.user.username.startsWith('system:'));
        assert.ok(r.user.groups.every((g) => typeof g === 'string' && g !== '' && !g.startsWith('system:')));
        for (const [k, v] of Object.entries(r.user.extra)) {
          assert.match(k, /^[a-z0-9.-]+\/[a-z0-9-]+$/);
          assert.ok(v.every((x) => typeof x === 'string'));
        }
      }),
      opts,
    );
  });

  it('the verifier never throws on arbitrary strings, and they never authenticate', () => {
    const v = verifier();
    const tokenish = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(fc.base64String({ maxLength: 80 }), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.').replace(/\+/g, '-').replace(/\//g, '_')),
    );
    properties++;
    fc.assert(
      fc.property(tokenish, (t) => {
        cases++;
        assert.equal(v.verify(t).ok, false);
      }),
      opts,
    );
  });

  it('tokens with arbitrary JSON headers and payloads, signed by the key, authenticate only when every check holds', () => {
    const v = verifier();
    const header = fc.oneof(
      fc.record({ alg: fc.oneof(fc.constantFrom('RS256', 'none', 'HS256', 'PS256', 'ES256', 'rs256'), fc.jsonValue()), kid: fc.oneof(fc.constant(KID), fc.jsonValue()), typ: fc.option(fc.oneof(fc.constantFrom('JWT', 'at+jwt', 'jwt'), fc.jsonValue()), { nil: undefined }), crit: fc.option(fc.jsonValue(), { nil: undefined }) }, { requiredKeys: ['alg', 'kid'] }),
      fc.jsonValue(),
    );
    const t = NOW / 1000;
    const payload = fc.oneof(
      fc.record({
        iss: fc.oneof(fc.constant(ISSUER), fc.constant(`${ISSUER}/`), fc.jsonValue()),
        aud: fc.oneof(fc.constant('kubernetes'), fc.constant(['x', 'kubernetes']), fc.jsonValue()),
        sub: fc.oneof(fc.constant('s-1'), fc.jsonValue()),
        exp: fc.oneof(fc.constant(t + 600), fc.constant(t - 1), fc.constant(t), fc.jsonValue()),
        nbf: fc.option(fc.oneof(fc.constant(t + 30), fc.constant(t + 3600), fc.jsonValue()), { nil: undefined }),
        groups: fc.option(fc.jsonValue(), { nil: undefined }),
        preferred_username: fc.jsonValue(),
      }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    properties++;
    fc.assert(
      fc.property(header, payload, fc.boolean(), (h, p, byStranger) => {
        cases++;
        const token = sign(JSON.stringify(h), JSON.stringify(p), byStranger ? stranger.privateKey : rsa.privateKey);
        const r = v.verify(token);
        if (!r.ok) return;
        // Authenticated: so the key signed it, and every check the apiserver makes holds.
        const hh = h as Record<string, unknown>;
        const pp = p as Record<string, unknown>;
        assert.equal(byStranger, false, 'a stranger key never authenticates');
        assert.equal(hh.alg, 'RS256');
        assert.equal(hh.kid, KID);
        assert.equal(hh.crit, undefined);
        assert.equal(pp.iss, ISSUER);
        assert.ok(pp.aud === 'kubernetes' || (Array.isArray(pp.aud) && pp.aud.includes('kubernetes')));
        assert.ok(typeof pp.exp === 'number' && pp.exp * 1000 > NOW);
        assert.ok(pp.nbf === undefined || (typeof pp.nbf === 'number' && pp.nbf * 1000 <= NOW + 60_000));
        assert.ok(typeof pp.sub === 'string' && pp.sub !== '');
        assert.ok(pp.groups === undefined || typeof pp.groups === 'string' || (Array.isArray(pp.groups) && pp.groups.every((g) => typeof g === 'string')));
      }),
      opts,
    );
  });

  it('any one-character change to a valid token makes it fail', () => {
    const v = verifier();
    const token = sign(JSON.stringify({ alg: 'RS256', kid: KID }), JSON.stringify(validClaims()), rsa.privateKey);
    assert.equal(v.verify(token).ok, true, 'the unchanged token authenticates');
    properties++;
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.='.split('')), (i, c) => {
        cases++;
        fc.pre(token[i] !== c);
        assert.equal(v.verify(token.slice(0, i) + c + token.slice(i + 1)).ok, false);
      }),
      opts,
    );
  });

  it('the webhook route answers 200 or 400 (never 5xx) to arbitrary JSON bodies, and authenticates none of them', async () => {
    const app = express();
    app.use(tokenReviewRoutes({ path: '/authenticate', verifier: verifier(), mapping: { usernameClaim: 'preferred_username', usernamePrefix: '', groupsClaim: 'groups', groupsPrefix: '' }, logger: pino({ level: 'silent' }) }));
    const srv = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => srv.once('listening', () => r()));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/authenticate`;
    try {
      const body = fc.oneof(
        fc.jsonValue().map((j) => JSON.stringify(j)),
        fc.record({ apiVersion: fc.constantFrom('authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'), kind: fc.constant('TokenReview'), spec: fc.record({ token: fc.oneof(fc.string(), fc.jsonValue()), audiences: fc.option(fc.jsonValue(), { nil: undefined }) }) }).map((j) => JSON.stringify(j)),
        fc.string({ maxLength: 200 }),
      );
      properties++;
    await fc.assert(
        fc.asyncProperty(body, async (text) => {
          cases++;
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
          const json = (await res.json()) as { status?: { authenticated?: boolean } };
          assert.ok(res.status === 200 || res.status === 400, `status ${res.status} for ${text.slice(0, 100)}`);
          assert.notEqual(json.status?.authenticated, true);
        }),
        opts,
      );
    } finally {
      srv.close();
    }
  });
});

describe('fuzz: usernames', () => {
  const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
  const anyName = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\n', '\u0085', '\u2028', '\u007f', ' ', 'é', '😀'), maxLength: 300 }),
  );

  it('usernameProblem accepts only names without control characters, within 256 bytes, not padded', () => {
    properties++;
    fc.assert(
      fc.property(anyName, (name) => {
        cases++;
        const problem = usernameProblem(name);
        const acceptable = name.length > 0 && Buffer.byteLength(name, 'utf8') <= MAX_USERNAME_BYTES && !CONTROL.test(name) && name === name.trim();
        assert.equal(problem === undefined, acceptable, `${JSON.stringify(name)}: ${problem}`);
      }),
      opts,
    );
  });

  it('usernameProblem accepts ordinary Unix names of any length up to the limit', () => {
    properties++;
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_][a-z0-9._-]{0,255}$/), (name) => {
        cases++;
        assert.equal(usernameProblem(name), Buffer.byteLength(name) <= MAX_USERNAME_BYTES ? undefined : `longer than ${MAX_USERNAME_BYTES} bytes`);
      }),
      opts,
    );
  });

  /** The fullwidth form of printable ASCII (U+FF01..U+FF5E for ! .. ~). */
  const fullwidth = (s: string) => [...s].map((c) => (c >= '!' && c <= '~' ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join('');
  const randomCase = (s: string, flips: boolean[]) => [...s].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');

  it('throttleUsername counts case and width variants of a name as one', () => {
    properties++;
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._@-]{1,32}$/), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (name, flips) => {
        cases++;
        const key = throttleUsername(name);
        assert.equal(throttleUsername(name.toUpperCase()), key);
        assert.equal(throttleUsername(name.toLowerCase()), key);
        assert.equal(throttleUsername(randomCase(name, flips)), key);
        assert.equal(throttleUsername(fullwidth(name)), key);
        assert.equal(throttleUsername(fullwidth(randomCase(name, flips))), key);
      }),
      opts,
    );
  });

  it('throttleUsername never throws and is stable: folding a folded name changes nothing', () => {
    properties++;
    fc.assert(
      fc.property(anyName, (name) => {
        cases++;
        const once = throttleUsername(name);
        assert.equal(throttleUsername(once), once);
      }),
      opts,
    );
  });
});
