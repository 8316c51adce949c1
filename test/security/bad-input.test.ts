// Issue 6 part 3, the bad-input catalogue: everything a careless or hostile client can send, thrown
// at a real unixid process (PAM via pam_wrapper/pam_matrix, NSS via nss_wrapper, Redis) on every
// endpoint it serves. Each input must get a defined answer — a 4xx, `authenticated: false`, or a
// redirect that stays on the site — never a 5xx, never a stack trace, never a login as someone
// else, and the process must still be healthy at the end.
//
// LDAP filter injection is covered against a real slapd in test/integration/ldap-backend.test.ts
// ("escapes filter metacharacters" and friends); it is not repeated here, where the backend is PAM.
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { KUBELOGIN_REDIRECT, kubeloginClient, kubeloginLogin, startKubeloginAuthorize, submitLogin, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { assertAlive, assertNoStack, logsSettled, rawBytes, rawRequest, readServerKey, signJwt, tokenReview, type ServerKey } from './support.js';

const alice = USERS.find((u) => u.name === 'alice')!;
const bob = USERS.find((u) => u.name === 'bob')!;
const MB = 1024 * 1024;
const PKCE_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

/** Usernames that look like (or fold to) alice's but are other strings: with her password, none may log in. */
const LOOKALIKES = [
  'ａｌｉｃｅ', // fullwidth
  'ＡＬＩＣＥ', // fullwidth capitals
  'alıce', // dotless i (Turkish)
  'аlice', // Cyrillic а
  'alicе', // Cyrillic е
  'Alice',
  'ALICE',
  'aLiCe',
  'ALİCE', // capital I with dot above
  'alice ', // trailing space
  ' alice',
  'alice\t',
  'alice\n',
  'alice\r\n',
  'ali\u200bce', // zero-width space
  '\u202ealice', // right-to-left override
  'alice\u0301', // combining acute accent
  'alice\u0000',
  'al\u0000ice',
  'alice:alice-Secret-1:unixid-test', // pam_matrix's own passdb line format
  'alice*',
  '*',
  '../alice',
  'alice@127.0.0.1',
];

describe('bad-input catalogue against a running unixid', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let server: UnixidProcess;
  let config: oidc.Configuration;
  let key: ServerKey;
  let tried = 0;
  const statuses = new Map<number, number>();

  /** The server's own origin, against which every redirect is judged. */
  const origin = () => new URL(server.url).origin;

  /**
   * Record one input's answer and check it: `ok(status)` (by default a 4xx), never a 5xx, no stack
   * in the body, and a Location (if any) that stays on the server's origin.
   */
  function judge(
    what: string,
    res: { status: number; body: string; location?: string | null | undefined },
    ok: (s: number) => boolean = is4xx,
    options: { clientRedirect?: boolean } = {},
  ): void {
    tried++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.ok(res.status < 500, `${what}: answered ${res.status}: ${res.body.slice(0, 300)}`);
    assert.ok(ok(res.status), `${what}: answered ${res.status}: ${res.body.slice(0, 300)}`);
    assertNoStack(res.body, what);
    if (res.location) {
      const to = new URL(res.location, server.url);
      // An OAuth error for a well-formed request from a known client goes back to that client's
      // registered redirect URI (kubelogin's loopback listener); nothing else may leave the site.
      const registered = options.clientRedirect === true && `${to.origin}` === KUBELOGIN_REDIRECT && to.searchParams.has('error');
      assert.ok(to.origin === origin() || registered, `${what}: redirects off-site to ${res.location}`);
    }
  }
  const is4xx = (s: number) => s >= 400 && s < 500;

  async function send(url: string, init: RequestInit = {}) {
    const res = await fetch(url, { redirect: 'manual', ...init });
    return { status: res.status, body: await res.text(), location: res.headers.get('location'), headers: res.headers };
  }

  before(async () => {
    tmp = await tempDir('bad-input');
    redis = await startRedis();
    const accounts = await createUnixAccounts(tmp.dir);
    const policy = join(tmp.dir, 'authz-policy.yaml');
    await writeFile(policy, 'rules:\n  - users: [alice]\n    nonResource: {verbs: [get], paths: [/healthz]}\n');
    server = await startUnixid({
      dir: tmp.dir,
      redisUrl: redis.url,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
      configYaml: [
        'kubernetes:',
        '  passwordGrant: true',
        '  basicAuthToken:',
        '    enabled: true',
        '  authorization:',
        '    enabled: true',
        `    policyFile: ${policy}`,
        '  clusters:',
        '    - name: dev',
        '      server: https://k8s.example.test:6443',
        // The key in <dataDir>/signing-keys.json (not the Redis key ring), so the test can sign tokens with it.
        'keys:',
        '  source: generated',
        // High limits: every look-alike below must reach PAM and be refused there, not by the throttle.
        'throttle:',
        '  username: {maxFailures: 100000}',
        '  ip: {maxFailures: 100000}',
        KUBERNETES_CLIENT_YAML,
        '',
      ].join('\n'),
    });
    config = await kubeloginClient(server.issuer);
    key = await readServerKey(join(tmp.dir, 'data'));
  });

  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  it('malformed, oversized and mistyped bodies to every endpoint get a 4xx', async () => {
    const big = 'a'.repeat(MB);
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const manyParams = Array.from({ length: 5000 }, (_, i) => `p${i}=${i}`).join('&');
    const bodies: Array<{ what: string; type?: string; encoding?: string; body: string | Buffer }> = [
      { what: 'truncated JSON', type: 'application/json', body: '{"apiVersion":' },
      { what: '1 MB JSON', type: 'application/json', body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: big } }) },
      { what: 'JSON nested 20000 deep', type: 'application/json', body: deep },
      { what: 'a JSON array', type: 'application/json', body: '[]' },
      { what: 'JSON null', type: 'application/json', body: 'null' },
      { what: 'a JSON string', type: 'application/json', body: '"TokenReview"' },
      { what: 'a __proto__ key', type: 'application/json', body: '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}' },
      { what: 'invalid UTF-8 in JSON', type: 'application/json', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
      { what: 'a broken form', type: 'application/x-www-form-urlencoded', body: '%%%=%zz&&=&a=%E0%A4%A' },
      { what: 'a 1 MB form', type: 'application/x-www-form-urlencoded', body: `username=${big}&password=${big}` },
      { what: 'a form with 5000 fields', type: 'application/x-www-form-urlencoded', body: manyParams },
      { what: 'XML', type: 'application/xml', body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' },
      { what: 'multipart', type: 'multipart/form-data; boundary=XYZ', body: '--XYZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--XYZ--\r\n' },
      { what: 'binary garbage', type: 'application/octet-stream', body: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)) },
      { what: 'no content type', body: 'username=alice&password=x' },
      { what: 'JSON in UTF-7', type: 'application/json; charset=utf-7', body: '{}' },
      { what: 'a form in KOI8-R', type: 'application/x-www-form-urlencoded; charset=koi8-r', body: 'username=alice' },
      { what: 'gzip that is not gzip', type: 'application/json', encoding: 'gzip', body: '{"not":"gzip"}' },
      { what: 'an unknown content encoding', type: 'application/x-www-form-urlencoded', encoding: 'x-custom', body: 'a=b' },
    ];
    // A live interaction, so the login route also sees these bodies with a valid interaction cookie.
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(config, browser);
    const liveLogin = new URL(formAction(page.body)!, page.url).href;
    const paths = [
      '/authenticate',
      '/authorize',
      '/token',
      '/auth',
      '/device',
      '/device/auth',
      '/session/end',
      '/session/end/confirm',
      '/interaction/not-a-uid/login',
      '/interaction/not-a-uid/confirm',
      '/reg',
      '/registration',
      '/token/revocation',
      '/me',
      '/jwks',
      '/.well-known/openid-configuration',
      '/kubeconfig',
      '/callback',
      '/oob',
      '/',
      '/metrics',
      '/healthz',
    ];
    for (const path of [...paths, liveLogin]) {
      const url = path.startsWith('http') ? path : `${server.url}${path}`;
      const cookie = path.startsWith('http') ? browser.cookieHeader() : undefined;
      for (const b of bodies) {
        const headers: Record<string, string> = { accept: 'text/html,application/json' };
        if (b.type) headers['content-type'] = b.type;
        if (b.encoding) headers['content-encoding'] = b.encoding;
        if (cookie) headers.cookie = cookie;
        const res = await send(url, { method: 'POST', headers, body: typeof b.body === 'string' ? b.body : new Uint8Array(b.body) });
        // oidc-provider sends a browser without a session on the device pages back to /device (see
        // device-no-session.test.ts); that on-site 303 is its defined answer.
        const ok = path === '/device' ? (s: number) => is4xx(s) || s === 303 : is4xx;
        judge(`POST ${path} with ${b.what}`, res, ok);
      }
    }
  });

  it('junk query strings on every GET endpoint never fail', async () => {
    const queries = [
      '?client_id=kubernetes&client_id=other',
      '?a=%zz&b=%E0%A4%A&%=1',
      '?x[y][z]=1&x[__proto__][polluted]=1',
      `?q=${'x'.repeat(12_000)}`,
      '?response_type=code&client_id=kubernetes&redirect_uri=http://localhost:8000&scope=openid&code_challenge=short&code_challenge_method=plain',
      '?cluster=../../../etc/passwd',
      '?expires_in=-1',
      '?user_code=%00%00',
      '?post_logout_redirect_uri=javascript:alert(1)',
    ];
    const paths = ['/', '/auth', '/token', '/device', '/device/auth', '/session/end', '/session/end/success', '/kubeconfig', '/callback', '/oob', '/jwks', '/.well-known/openid-configuration', '/me', '/interaction/not-a-uid', '/interaction/not-a-uid/abort', '/reg', '/healthz', '/readyz', '/metrics', '/login'];
    for (const path of paths) {
      for (const q of queries) {
        const res = await send(`${server.url}${path}${q}`, { headers: { accept: 'text/html' } });
        // Pages that ignore their query answer 200 (or redirect on-site): a defined answer too.
        judge(`GET ${path}${q.slice(0, 40)}`, res, (s) => s < 500, { clientRedirect: true });
      }
    }
    // Methods nobody serves.
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/auth', '/token', '/authenticate', '/authorize', '/interaction/not-a-uid/login', '/kubeconfig']) {
        const res = await send(`${server.url}${path}`, { method, headers: { accept: 'application/json' } });
        // OPTIONS gets express's automatic Allow answer (200/204) on routes unixid serves.
        judge(`${method} ${path}`, res, (s) => is4xx(s) || (method === 'OPTIONS' && s < 300));
      }
    }
  });

  it('huge headers get 431 and broken HTTP gets 400 from Node, before any route runs', async () => {
    // Raw bytes: Node answers 431 and closes the socket while a client may still be writing, which
    // an http.request would report as ECONNRESET instead of the answer.
    const request = (line: string, headers: string[]) => `${line}\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
    const huge = 'h'.repeat(64 * 1024);
    for (const path of ['/healthz', '/auth', '/token', '/authenticate', '/interaction/x/login']) {
      const res = await rawBytes(server.url, request(`GET ${path} HTTP/1.1`, [`X-Filler: ${huge}`]));
      judge(`${path} with a 64 KB header`, { status: res.status, body: res.text }, (s) => s === 431);
      const cookie = await rawBytes(server.url, request(`POST ${path} HTTP/1.1`, [`Cookie: _session=${huge}`, 'Content-Length: 0']));
      judge(`${path} with a 64 KB cookie`, { status: cookie.status, body: cookie.text }, (s) => s === 431);
    }
    const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: vvvvvvvv`);
    const manyRes = await rawBytes(server.url, request('GET /healthz HTTP/1.1', many));
    judge('3000 headers', { status: manyRes.status, body: manyRes.text }, (s) => s === 431);
    const longUrl = await rawBytes(server.url, request(`GET /auth?x=${'u'.repeat(20_000)} HTTP/1.1`, []));
    judge('a 20 KB URL', { status: longUrl.status, body: longUrl.text }, (s) => s === 431 || s === 414);
    const basic = await rawBytes(server.url, request('GET /token HTTP/1.1', [`Authorization: Basic ${'QUFB'.repeat(MB)}`]));
    // Node may reset the connection while 4 MB are still on their way, before its 431 is read: a
    // closed connection (0) is the same refusal.
    judge('a 4 MB basic-auth header', { status: basic.status, body: basic.text }, (s) => s === 431 || s === 0);

    const junk: Array<[string, string]> = [
      ['a request line of garbage', 'GARBAGE\r\n\r\n'],
      ['an unknown HTTP version', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n'],
      ['a non-numeric Content-Length', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
      ['both Content-Length and chunked', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['a broken chunk', 'POST /authenticate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
      ['a control character in a header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'],
      ['a header without a colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'],
      ['a space before the colon', 'GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n'],
      ['a NUL in the path', 'GET /heal\u0000thz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ];
    for (const [what, bytes] of junk) {
      const res = await rawBytes(server.url, bytes);
      // 0: Node closed the connection without an answer, which is also a refusal.
      judge(what, { status: res.status, body: res.text }, (s) => is4xx(s) || s === 0 || s === 505);
    }
  });

  it('TokenReview: forged, expired, misaddressed, oversized and ill-typed tokens get authenticated:false', async () => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', kid: key.kid, typ: 'JWT' };
    const claims = { iss: server.issuer, aud: 'kubernetes', sub: 'forged-subject', preferred_username: 'alice', groups: ['developers'], iat: now, exp: now + 300 };
    const signed = (h: Record<string, unknown>, p: Record<string, unknown>) => signJwt(h, p, key.privateKey);

    // The control: our signing helper makes tokens the webhook accepts, so every refusal below is
    // the check under test and not a broken forgery.
    const control = await tokenReview(server.url, signed(header, claims));
    assert.equal(control.body?.status?.authenticated, true, control.text);
    tried++;

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwkN = String(key.publicKey.export({ format: 'jwk' }).n);
    const valid = signed(header, claims);
    const [vh, vp, vs] = valid.split('.') as [string, string, string];
    const tampered = `${vh}.${Buffer.from(JSON.stringify({ ...claims, preferred_username: 'root', groups: ['system:masters'] })).toString('base64url')}.${vs}`;

    const refused: Array<[string, string]> = [
      ['alg none', signJwt({ alg: 'none', kid: key.kid }, claims, null)],
      ['alg None', signJwt({ alg: 'None', kid: key.kid }, claims, null)],
      ['alg none with a signature kept', `${signJwt({ alg: 'none', kid: key.kid }, claims, null)}${vs}`],
      ['HS256 keyed with the public key PEM', signJwt({ alg: 'HS256', kid: key.kid }, claims, key.publicPem)],
      ['HS256 keyed with the PEM without its last newline', signJwt({ alg: 'HS256', kid: key.kid }, claims, key.publicPem.trimEnd())],
      ['HS256 keyed with the JWK modulus', signJwt({ alg: 'HS256', kid: key.kid }, claims, jwkN)],
      ["PS256 by the real key (not the key's alg)", (() => {
        const input = `${Buffer.from(JSON.stringify({ alg: 'PS256', kid: key.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
        const sig = cryptoSign('sha256', Buffer.from(input), { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
        return `${input}.${sig.toString('base64url')}`;
      })()],
      ['ES256 header on the RSA key', signed({ alg: 'ES256', kid: key.kid }, claims)],
      ['another key under the real kid', signJwt(header, claims, other.privateKey)],
      ['an unknown kid', signJwt({ alg: 'RS256', kid: 'no-such-key' }, claims, other.privateKey)],
      ['no kid', signed({ alg: 'RS256' }, claims)],
      ['a numeric kid', signed({ alg: 'RS256', kid: 42 }, claims)],
      ['a path as kid', signed({ alg: 'RS256', kid: '../../data/signing-keys.json' }, claims)],
      ['a jku header pointing elsewhere', signJwt({ alg: 'RS256', kid: 'evil', jku: 'http://evil.example/jwks' }, claims, other.privateKey)],
      ['an embedded jwk header', signJwt({ alg: 'RS256', jwk: other.publicKey.export({ format: 'jwk' }) }, claims, other.privateKey)],
      ['a crit header', signed({ ...header, crit: ['exp'] }, claims)],
      ['typ at+jwt (an access token)', signed({ ...header, typ: 'at+jwt' }, claims)],
      ['a tampered payload', tampered],
      ['expired a second ago', signed(header, { ...claims, exp: now - 1 })],
      ['expired an hour ago', signed(header, { ...claims, iat: now - 7200, exp: now - 3600 })],
      ['exp as a string', signed(header, { ...claims, exp: String(now + 300) })],
      ['exp null', signed(header, { ...claims, exp: null })],
      ['no exp', signed(header, { ...claims, exp: undefined })],
      ['nbf an hour ahead', signed(header, { ...claims, nbf: now + 3600 })],
      ['nbf as a string', signed(header, { ...claims, nbf: 'now' })],
      ['a foreign issuer', signed(header, { ...claims, iss: 'http://evil.example' })],
      ['the issuer with a trailing slash', signed(header, { ...claims, iss: `${server.issuer}/` })],
      ['the issuer in capitals', signed(header, { ...claims, iss: server.issuer.toUpperCase() })],
      ['no issuer', signed(header, { ...claims, iss: undefined })],
      ['another audience', signed(header, { ...claims, aud: 'other-client' })],
      ['an audience list without us', signed(header, { ...claims, aud: ['a', 'b'] })],
      ['an empty audience list', signed(header, { ...claims, aud: [] })],
      ['a numeric audience', signed(header, { ...claims, aud: 7 })],
      ['groups of numbers', signed(header, { ...claims, groups: [1, 2] })],
      ['a null group', signed(header, { ...claims, groups: ['developers', null] })],
      ['an object group', signed(header, { ...claims, groups: [{ name: 'developers' }] })],
      ['nested group arrays', signed(header, { ...claims, groups: [['developers']] })],
      ['groups as a number', signed(header, { ...claims, groups: 5 })],
      ['groups as an object', signed(header, { ...claims, groups: { admin: true } })],
      ['a numeric username', signed(header, { ...claims, preferred_username: 1001 })],
      ['a username list', signed(header, { ...claims, preferred_username: ['alice'] })],
      ['an empty username', signed(header, { ...claims, preferred_username: '' })],
      ['a system: username', signed(header, { ...claims, preferred_username: 'system:admin' })],
      ['no sub', signed(header, { ...claims, sub: undefined })],
      ['a payload that is not JSON', signJwt(header, 'not json', key.privateKey)],
      ['a payload that is an array', signJwt(header, '[1,2,3]', key.privateKey)],
      ['a padded segment', `${vh}=.${vp}.${vs}`],
      ['two segments', `${vh}.${vp}`],
      ['four segments', `${valid}.x`],
      ['the empty string', ''],
      ['three dots', '...'],
      ['a bearer prefix', `Bearer ${valid}`],
      ['white space around', ` ${valid} `],
      ['unicode', 'ﬁ.ﬂ.ﬀ'],
      ['60 KB of token', `${vh}.${'A'.repeat(60 * 1024)}.${vs}`],
      ['a service-account-shaped token', signJwt({ alg: 'RS256', kid: 'sa' }, { iss: 'kubernetes/serviceaccount', sub: 'system:serviceaccount:default:x' }, other.privateKey)],
    ];
    for (const [what, token] of refused) {
      const r = await tokenReview(server.url, token);
      tried++;
      assert.equal(r.status, 200, `${what}: ${r.text}`);
      assert.equal(r.body?.status?.authenticated, false, `${what}: ${r.text}`);
      assert.equal(r.body?.status?.error, undefined, `${what}: a plain refusal (cacheable), not an error`);
      assertNoStack(r.text, what);
    }

    // Signature-valid but asking for reserved groups: authenticated, with system: groups dropped.
    const masters = await tokenReview(server.url, signed(header, { ...claims, groups: ['developers', 'system:masters'] }));
    tried++;
    assert.equal(masters.body?.status?.authenticated, true);
    assert.deepEqual(masters.body?.status?.user?.groups, ['developers']);

    // A 1 MB token does not fit the webhook's 64 KB body limit: 413 before anything parses it.
    const huge = await tokenReview(server.url, `${vh}.${'A'.repeat(MB)}.${vs}`);
    judge('a 1 MB token', { status: huge.status, body: huge.text }, (s) => s === 413);

    // Reviews that are not TokenReviews at all: 400 with a reason.
    const malformed: unknown[] = [
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 123 } },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: {} },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: [] },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview' },
      { apiVersion: 'authentication.k8s.io/v2', kind: 'TokenReview', spec: { token: valid } },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SubjectAccessReview', spec: { token: valid } },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: valid, audiences: 'api' } },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: valid, audiences: [1] } },
      { apiVersion: ['authentication.k8s.io/v1'], kind: 'TokenReview', spec: { token: valid } },
    ];
    for (const body of malformed) {
      const res = await send(`${server.url}/authenticate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      judge(`TokenReview ${JSON.stringify(body).slice(0, 80)}`, res, (s) => s === 400);
    }
  });

  it('SubjectAccessReview: malformed reviews get 400, a 1 MB one 413', async () => {
    const base = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview' };
    const good = { ...base, spec: { user: 'alice', groups: [], nonResourceAttributes: { path: '/healthz', verb: 'get' } } };
    const control = await send(`${server.url}/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
    assert.equal(control.status, 200, control.body);
    tried++;
    const bad: unknown[] = [
      { ...base },
      { ...base, spec: null },
      { ...base, spec: { user: 42, nonResourceAttributes: { path: '/', verb: 'get' } } },
      { ...base, spec: { user: 'alice', groups: 'admins', nonResourceAttributes: { path: '/', verb: 'get' } } },
      { ...base, spec: { user: 'alice', groups: [null], nonResourceAttributes: { path: '/', verb: 'get' } } },
      { ...base, spec: { user: 'alice', resourceAttributes: 'pods' } },
      { ...base, spec: { user: 'alice', resourceAttributes: { verb: 7 } } },
      { ...base, spec: { user: 'alice', nonResourceAttributes: { path: '', verb: 'get' } } },
      { ...base, spec: { user: 'alice' } },
      { ...base, apiVersion: 'authorization.k8s.io/v9', spec: good.spec },
      { ...base, kind: 'TokenReview', spec: good.spec },
    ];
    for (const body of bad) {
      const res = await send(`${server.url}/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      judge(`SubjectAccessReview ${JSON.stringify(body).slice(0, 80)}`, res, (s) => s === 400);
    }
    const huge = await send(`${server.url}/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...good, spec: { ...good.spec, user: 'a'.repeat(MB) } }) });
    judge('a 1 MB SubjectAccessReview', huge, (s) => s === 413);
  });

  it('login form: missing, oversized, NUL-bearing, look-alike and case-variant usernames never log in as alice', async () => {
    await logsSettled(server);
    const successesBefore = server.logEntries().filter((e) => e.msg === 'login succeeded').length;
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(config, browser);
    const action = new URL(formAction(page.body)!, page.url).href;
    const post = (form: Record<string, string>) => browser.request(action, { form });
    // A raw body, for fields a URLSearchParams cannot express (duplicates).
    const rawPost = async (body: string) => {
      const res = await fetch(action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: browser.cookieHeader(), accept: 'text/html' }, body });
      return { status: res.status, body: await res.text(), location: res.headers.get('location') ?? undefined };
    };

    const incomplete: Array<[string, Record<string, string>]> = [
      ['no fields', {}],
      ['no password', { username: 'alice' }],
      ['no username', { password: alice.password }],
      ['both empty', { username: '', password: '' }],
      ['a 6000-character username', { username: 'a'.repeat(6000), password: alice.password }],
      ['a 6000-character password', { username: 'alice', password: 'p'.repeat(6000) }],
    ];
    for (const [what, form] of incomplete) judge(`login form with ${what}`, await post(form), (s) => s === 400);
    judge('login form with two usernames', await rawPost(`username=alice&username=alice&password=${encodeURIComponent(alice.password)}`), (s) => s === 400);
    judge('login form with a 1 MB username', await post({ username: 'a'.repeat(MB), password: alice.password }), (s) => s === 413);
    judge('login form with a 1 MB password', await post({ username: 'alice', password: 'p'.repeat(MB) }), (s) => s === 413);

    const refusedLogins: Array<[string, Record<string, string>]> = [
      ...LOOKALIKES.map((u): [string, Record<string, string>] => [`username ${JSON.stringify(u)}`, { username: u, password: alice.password }]),
      ['a NUL after the password', { username: 'alice', password: `${alice.password}\u0000` }],
      ['a NUL before the password', { username: 'alice', password: `\u0000${alice.password}` }],
      ['a 4097-byte password', { username: 'alice', password: 'p'.repeat(4097) }],
      ['the password in capitals', { username: 'alice', password: alice.password.toUpperCase() }],
      ["bob's password", { username: 'alice', password: bob.password }],
      ['an unknown user', { username: 'nosuchuser', password: alice.password }],
      ['root', { username: 'root', password: alice.password }],
      ['a script as username', { username: '<script>alert(1)</script>', password: 'x' }],
    ];
    for (const [what, form] of refusedLogins) {
      const res = await post(form);
      judge(`login form with ${what}`, res, (s) => s === 401 || s === 400);
      assert.ok(!res.location, `${what}: no redirect back to the client`);
      assert.doesNotMatch(res.body, /<script>alert\(1\)/, `${what}: the username is escaped on the page`);
    }
    await logsSettled(server);
    const successes = server.logEntries().filter((e) => e.msg === 'login succeeded').length;
    assert.equal(successes, successesBefore, 'no login succeeded');
    const reasons = new Set(server.logEntries().filter((e) => e.msg === 'login failed').map((e) => String(e.reason)));
    assert.ok(reasons.has('wrong_password') || reasons.has('unknown_user'), `PAM refused them: ${[...reasons].join(',')}`);

    // And the control, in the same interaction: alice herself still gets in, so the refusals above
    // were PAM saying no to other strings, not a broken setup.
    const done = await submitLogin(browser, page, alice.name, alice.password);
    assert.ok(done.location?.startsWith('http://localhost:8000'), `alice logs in: ${done.status} ${done.body.slice(0, 200)}`);
  });

  it('password grant and basic-auth /token refuse the same look-alikes', async () => {
    const token = `${server.url}/token`;
    for (const username of LOOKALIKES) {
      const res = await send(token, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username, password: alice.password, client_id: 'kubernetes', scope: 'openid' }),
      });
      judge(`password grant as ${JSON.stringify(username)}`, res, (s) => s === 400);
      assert.match(res.body, /invalid_grant|invalid_request/);
      assert.doesNotMatch(res.body, /id_token/);
      // A username with a colon cannot travel in basic auth (the colon ends it); the rest can.
      if (!username.includes(':')) {
        const basic = await send(token, { headers: { authorization: `Basic ${Buffer.from(`${username}:${alice.password}`).toString('base64')}` } });
        judge(`basic-auth token as ${JSON.stringify(username)}`, basic, (s) => s === 401);
      }
    }
    const malformedBasic = ['Basic', 'Basic !!!!', `Basic ${Buffer.from('alice').toString('base64')}`, `Basic ${Buffer.from(':pw').toString('base64')}`, 'Bearer abc', `Basic ${Buffer.from(`alice:${alice.password}`).toString('base64')}extra`, 'Digest username="alice"'];
    for (const authorization of malformedBasic) judge(`GET /token with ${authorization.slice(0, 30)}`, await send(token, { headers: { authorization } }), (s) => s === 401);
    const aliceBasic = `Basic ${Buffer.from(`${alice.name}:${alice.password}`).toString('base64')}`;
    for (const expires of ['-1', '0', 'abc', '1.5', '1e309', '', 'NaN', 'Infinity']) {
      judge(`GET /token?expires_in=${expires}`, await send(`${token}?expires_in=${expires}`, { headers: { authorization: aliceBasic } }), (s) => s === 400);
    }
    for (const body of ['grant_type=password&username=alice', 'grant_type=password&password=x&client_id=kubernetes', 'grant_type=password&username=alice&password=x&client_id=nope', 'grant_type=nope&client_id=kubernetes', `grant_type=password&username=alice&username=bob&password=x&client_id=kubernetes`]) {
      judge(`POST /token ${body}`, await send(token, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }), (s) => s === 400 || s === 401);
    }
  });

  it('kubeconfig downloads refuse odd cluster names, logged in or not', async () => {
    const browser = new Browser();
    const login = await browser.follow(`${server.url}/login`);
    const home = await submitLogin(browser, login, bob.name, bob.password);
    assert.equal(home.status, 200, home.body.slice(0, 200));
    const good = await browser.request(`${server.url}/kubeconfig?cluster=dev`);
    assert.equal(good.status, 200, 'the control download works');
    tried++;
    for (const cluster of ['../../../etc/passwd', '%00', 'dev%00', 'dev/../dev', 'x'.repeat(5000), 'DEV', 'dev ', '<script>']) {
      const res = await browser.request(`${server.url}/kubeconfig?cluster=${encodeURIComponent(cluster)}`);
      judge(`kubeconfig ${cluster.slice(0, 20)}`, { status: res.status, body: res.body }, (s) => s === 404);
      // The name is echoed, but as plain text that the browser may not sniff into HTML.
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      judge(`kubeconfig ${cluster.slice(0, 20)} without a session`, await send(`${server.url}/kubeconfig?cluster=${encodeURIComponent(cluster)}`), (s) => s === 401);
    }
  });

  it('open redirects: redirect_uri, post_logout_redirect_uri and interaction URLs never leave the site', async () => {
    const evil = [
      'http://evil.example',
      'http://evil.example/',
      'http://localhost.evil.example',
      'http://localhost.evil.example:8000',
      'http://127.0.0.1@evil.example',
      'http://localhost@evil.example',
      'http://localhost:8000@evil.example',
      'http://[::1]@evil.example',
      'http://127.0.0.1.nip.io',
      'http://localhost%2eevil.example',
      'http://evil.example#http://localhost',
      'http://evil.example?http://localhost',
      'http://localhost/\\@evil.example',
      'http:\\\\evil.example',
      '//evil.example',
      '/\\evil.example',
      'javascript:alert(1)',
      'JavaScript://localhost/%0aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'https://localhost:8000',
      'http://localhost:8000/../../evil',
      'http://localhost:8000/callback',
      'http://0x7f000001:8000',
      'http://localhost:8000\u0000.evil.example',
    ];
    const authorize = (redirectUri: string, clientId = 'kubernetes') =>
      `${server.url}/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: 's', code_challenge: PKCE_CHALLENGE, code_challenge_method: 'S256' })}`;
    for (const uri of evil) {
      for (const clientId of ['kubernetes', 'unixid-home', 'no-such-client']) {
        const res = await send(authorize(uri, clientId), { headers: { accept: 'text/html' } });
        judge(`authorize ${clientId} -> ${uri}`, res, (s) => s === 400);
        assert.equal(res.location, null, `${uri}: no redirect at all`);
        assert.doesNotMatch(res.body, /href="(?:https?:)?\/\/evil|href="javascript:/i, `${uri}: no link off-site on the error page`);
      }
    }

    // post_logout_redirect_uri: refused with a client; ignored (the logout ends on-site) without one.
    const { tokens } = await kubeloginLogin(config, new Browser(), bob.name, bob.password);
    for (const uri of evil) {
      const withClient = await send(`${server.url}/session/end?${new URLSearchParams({ client_id: 'kubernetes', post_logout_redirect_uri: uri })}`, { headers: { accept: 'text/html' } });
      judge(`logout with client -> ${uri}`, withClient, (s) => s === 400);
      const withHint = await send(`${server.url}/session/end?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: uri })}`, { headers: { accept: 'text/html' } });
      judge(`logout with id_token_hint -> ${uri}`, withHint, (s) => s === 400);
    }
    const logoutBrowser = new Browser();
    await kubeloginLogin(config, logoutBrowser, bob.name, bob.password);
    const confirm = await logoutBrowser.request(`${server.url}/session/end?post_logout_redirect_uri=${encodeURIComponent('http://evil.example')}`);
    judge('logout without a client -> http://evil.example (the page)', confirm, (s) => s === 200);
    const out = await logoutBrowser.request(new URL(formAction(confirm.body)!, server.url).href, { form: { xsrf: formField(confirm.body, 'xsrf')!, logout: 'yes' } });
    judge('logout without a client -> http://evil.example (the confirmation)', out, (s) => s === 303);
    assert.equal(new URL(out.location!).origin, origin(), 'the logout ends on-site');

    // Interaction URLs: traversal, a uid that belongs to another browser, and the abort link.
    const victim = new Browser();
    const victimPage = (await startKubeloginAuthorize(config, victim)).page;
    const victimUid = /\/interaction\/([^/?#"]+)/.exec(victimPage.url)![1]!;
    const attacker = new Browser();
    const attackerPage = (await startKubeloginAuthorize(config, attacker)).page;
    const attackerUid = /\/interaction\/([^/?#"]+)/.exec(attackerPage.url)![1]!;
    // A browser sends the interaction cookie only under /interaction/<its uid> (the cookie's path),
    // so on any other path it brings at most its session cookie.
    const sessionOnly = attacker
      .cookieHeader()
      .split('; ')
      .filter((c) => !c.startsWith('_interaction'))
      .join('; ');
    for (const path of [
      '/interaction/../../x',
      '/interaction/..%2f..%2fx',
      '/interaction/%2e%2e/%2e%2e/x',
      '/interaction//evil.example',
      '/interaction/x/login/../../../../evil',
      '//evil.example/interaction/x',
      '/interaction/%00',
      '/interaction/%ff',
      `/interaction/${'u'.repeat(2000)}`,
      `/interaction/${victimUid}`,
      `/interaction/${victimUid}/abort`,
    ]) {
      const res = await rawRequest(server.url, { path, headers: { cookie: sessionOnly, accept: 'text/html' } });
      judge(`GET ${path.slice(0, 60)}`, { status: res.status, body: res.body, location: res.headers.location }, (s) => is4xx(s));
    }
    const stolen = await rawRequest(server.url, {
      method: 'POST',
      path: `/interaction/${victimUid}/login`,
      headers: { cookie: sessionOnly, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ username: alice.name, password: alice.password }).toString(),
    });
    judge("POST a login to another browser's interaction uid", { status: stolen.status, body: stolen.body, location: stolen.headers.location }, (s) => s === 400);
    // Even with every cookie the attacker holds, a foreign uid in the path reaches only the
    // attacker's own interaction (oidc-provider finds it by the cookie), never the victim's.
    const foreign = await rawRequest(server.url, { path: `/interaction/${victimUid}`, headers: { cookie: attacker.cookieHeader(), accept: 'text/html' } });
    judge("GET another browser's interaction uid with the attacker's own cookies", { status: foreign.status, body: foreign.body, location: foreign.headers.location }, (s) => s === 200 || is4xx(s));
    if (foreign.status === 200) {
      assert.ok(foreign.body.includes(`/interaction/${attackerUid}/login`), "the page is the attacker's own interaction");
      assert.ok(!foreign.body.includes(victimUid), "nothing of the victim's interaction is shown");
    }
    // The victim's own interaction is untouched by all this: still at the login prompt, and it works.
    const victimDone = await submitLogin(victim, victimPage, bob.name, bob.password);
    assert.ok(victimDone.location?.startsWith(KUBELOGIN_REDIRECT), 'the victim can still log in, as themselves');
  });

  it('the process survived all of it: /healthz, no fatal or uncaught error, no 5xx, no stray stack', async () => {
    await assertAlive(server, { noErrors: true });
    const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ');
    console.log(`bad-input: ${tried} inputs tried, 0 answered 5xx, 0 crashes; statuses ${summary}`);
    assert.ok(tried > 500, `a real catalogue (${tried})`);
  });
});
