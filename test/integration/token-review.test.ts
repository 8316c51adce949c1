import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { pino } from 'pino';
import { captureLogs } from '../harness/capture-logs.js';
import type { VerificationKey } from '../../src/keys/jwk.js';
import { createGrantLiveness, type GrantLiveness } from '../../src/kubernetes/grant-liveness.js';
import { createReviewVerifier, type ClaimMapping, type ReviewOutcome } from '../../src/kubernetes/token-review.js';
import { tokenReviewRoutes } from '../harness/token-review.js';
import type { TokenVerifier } from '../../src/kubernetes/token-verifier.js';
import { createGrantRevoker } from '../../src/oidc/revoke-grant.js';
import { createStore, type Store } from '../../src/store/create-store.js';
import { requestContext } from '../../src/web/request-context.js';
import { startRedis, type RedisServer } from '../harness/redis.js';

const ISSUER = 'https://id.example.test';
const CLIENT_ID = 'kubernetes';
const V1 = 'authentication.k8s.io/v1';
const V1BETA1 = 'authentication.k8s.io/v1beta1';

// Generated per run; never committed.
const ours = generateKeyPairSync('rsa', { modulusLength: 2048 });
const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEYS: VerificationKey[] = [{ kid: 'k1', alg: 'RS256', key: ours.publicKey }];

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const nowSec = () => Math.floor(Date.now() / 1000);

function jwt(payload: Record<string, unknown>, opts: { key?: KeyObject; kid?: string; alg?: string } = {}): string {
  const input = `${b64({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'k1' })}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), opts.key ?? ours.privateKey).toString('base64url')}`;
}

function idToken(over: Record<string, unknown> = {}): string {
  return jwt({
    iss: ISSUER,
    aud: CLIENT_ID,
    sub: 'pam:1000',
    preferred_username: 'alice',
    name: 'Alice Liddell',
    groups: ['developers', 'system:masters', 'wheel'],
    uid_number: 1000,
    gid_number: 1000,
    grant_id: 'grant-1',
    iat: nowSec(),
    exp: nowSec() + 300,
    ...over,
  });
}

/** A TokenReview body exactly as kube-apiserver serialises it. */
function reviewBody(token: string, apiVersion = V1, audiences?: string[]): Record<string, unknown> {
  return {
    kind: 'TokenReview',
    apiVersion,
    metadata: { creationTimestamp: null },
    spec: audiences ? { token, audiences } : { token },
    status: { user: {} },
  };
}

interface Harness {
  url: string;
  outcomes: ReviewOutcome[];
  logs: string[];
  close(): Promise<void>;
}

async function serve(options: { mapping?: Partial<ClaimMapping>; revocation?: GrantLiveness; verifier?: TokenVerifier; revocationTimeoutMs?: number } = {}): Promise<Harness> {
  const { logger, lines: logs } = captureLogs();
  const outcomes: ReviewOutcome[] = [];
  const mapping: ClaimMapping = { usernameClaim: 'preferred_username', usernamePrefix: '', groupsClaim: 'groups', groupsPrefix: '', ...options.mapping };
  const app = express();
  app.use(requestContext());
  app.use(
    tokenReviewRoutes({
      path: '/authenticate',
      // As the server builds it: only the claims a review reads are kept, so a claim the review
      // starts reading without adding it to reviewClaims() fails these tests.
      verifier: options.verifier ?? createReviewVerifier({ issuer: ISSUER, clientId: CLIENT_ID, mapping, keys: () => KEYS, cacheMaxEntries: 100 }),
      mapping,
      ...(options.revocation ? { revocation: options.revocation } : {}),
      ...(options.revocationTimeoutMs ? { revocationTimeoutMs: options.revocationTimeoutMs } : {}),
      logger,
      onReview: (o) => outcomes.push(o),
    }),
  );
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/authenticate`,
    outcomes,
    logs,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function post(url: string, body: unknown, contentType = 'application/json'): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/json, */*' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

const notAuthenticated = (apiVersion = V1) => ({ apiVersion, kind: 'TokenReview', status: { authenticated: false } });

describe('TokenReview webhook', () => {
  let h: Harness;
  before(async () => {
    h = await serve();
  });
  after(() => h.close());

  for (const apiVersion of [V1, V1BETA1]) {
    it(`authenticates our token (${apiVersion}, no audiences) and answers every field`, async () => {
      const res = await post(h.url, reviewBody(idToken(), apiVersion));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(JSON.stringify(res.json))));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'a request id of its own');
      assert.deepEqual(res.json, {
        apiVersion,
        kind: 'TokenReview',
        status: {
          authenticated: true,
          user: {
            username: 'alice',
            uid: 'pam:1000',
            groups: ['developers', 'wheel'],
            extra: { 'unixid.io/uid-number': ['1000'], 'unixid.io/gid-number': ['1000'] },
          },
        },
      });
    });

    it(`echoes spec.audiences for our token (${apiVersion})`, async () => {
      const audiences = ['https://kubernetes.default.svc', 'api'];
      const res = await post(h.url, reviewBody(idToken(), apiVersion, audiences), 'application/json; charset=utf-8');
      assert.equal(res.status, 200);
      assert.equal(res.json.apiVersion, apiVersion);
      assert.equal(res.json.status.authenticated, true);
      assert.deepEqual(res.json.status.audiences, audiences);
    });

    it(`never emits audiences for a rejected token (${apiVersion})`, async () => {
      const res = await post(h.url, reviewBody('garbage', apiVersion, ['api']));
      assert.deepEqual(res.json, notAuthenticated(apiVersion));
    });
  }

  it('leaves audiences out when spec.audiences is empty', async () => {
    const res = await post(h.url, reviewBody(idToken(), V1, []));
    assert.equal(res.json.status.authenticated, true);
    assert.equal('audiences' in res.json.status, false);
  });

  it('accepts a body without a content type, or with another one', async () => {
    const res = await fetch(h.url, { method: 'POST', body: JSON.stringify(reviewBody(idToken())) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).status.authenticated, true);
    const text = await post(h.url, reviewBody(idToken()), 'text/plain');
    assert.equal(text.json.status.authenticated, true);
  });

  const pem = createPublicKey(ours.privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const hsInput = `${b64({ alg: 'HS256', kid: 'k1' })}.${b64({ iss: ISSUER, aud: CLIENT_ID, sub: 'x', preferred_username: 'root', exp: nowSec() + 300 })}`;
  const foreignTokens: Array<[string, () => string]> = [
    ['HS256 signed with our public key', () => `${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`],
    ['alg none', () => `${b64({ alg: 'none' })}.${b64({ iss: ISSUER, aud: CLIENT_ID, sub: 'x', preferred_username: 'root', exp: nowSec() + 300 })}.`],
    ["another issuer's RS256 token", () => jwt({ iss: 'https://other.example', aud: CLIENT_ID, sub: 'x', preferred_username: 'alice', exp: nowSec() + 300 }, { key: foreign.privateKey, kid: 'other' })],
    ['a token signed by a foreign key under our kid', () => jwt({ iss: ISSUER, aud: CLIENT_ID, sub: 'x', preferred_username: 'alice', exp: nowSec() + 300 }, { key: foreign.privateKey })],
    ['an expired token', () => idToken({ exp: nowSec() - 5 })],
    ['a token for another audience', () => idToken({ aud: 'some-other-client' })],
    ['a service-account-shaped token', () => jwt({ iss: 'https://kubernetes.default.svc', aud: ['https://kubernetes.default.svc'], sub: 'system:serviceaccount:default:x', exp: nowSec() + 300 }, { key: foreign.privateKey, kid: 'sa' })],
    ['garbage', () => 'not-a-jwt'],
    ['an empty token', () => ''],
    ['a 30 KB token (under the body limit)', () => 'a'.repeat(30 * 1024)],
    ['a token with a non-string group', () => idToken({ groups: ['ok', 7] })],
  ];
  for (const [what, make] of foreignTokens) {
    it(`answers ${what} with authenticated:false and no error`, async () => {
      for (const apiVersion of [V1, V1BETA1]) {
        const res = await post(h.url, reviewBody(make(), apiVersion, ['api']));
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(res.json, notAuthenticated(apiVersion));
      }
    });
  }

  it('rejects a token without the username claim', async () => {
    const token = jwt({ iss: ISSUER, aud: CLIENT_ID, sub: 'x', exp: nowSec() + 300 });
    assert.deepEqual((await post(h.url, reviewBody(token))).json, notAuthenticated());
  });

  it('answers a 1 MB token with 413, not a 5xx', async () => {
    const res = await post(h.url, reviewBody('a'.repeat(1024 * 1024)));
    assert.equal(res.status, 413);
    assert.equal(typeof res.json.error, 'string');
  });

  const malformed: Array<[string, string | unknown, RegExp]> = [
    ['non-JSON', 'this is not json', /JSON/],
    ['truncated JSON', '{"kind":"TokenReview",', /JSON/],
    ['a JSON string', '"TokenReview"', /JSON/],
    ['a JSON array', [reviewBody('x')], /object/],
    ['an empty object', {}, /apiVersion/],
    ['another apiVersion', { ...reviewBody('x'), apiVersion: 'authentication.k8s.io/v2' }, /apiVersion/],
    ['another kind', { ...reviewBody('x'), kind: 'SubjectAccessReview' }, /kind/],
    ['no spec', { apiVersion: V1, kind: 'TokenReview' }, /spec/],
    ['no spec.token', { apiVersion: V1, kind: 'TokenReview', spec: {} }, /spec\.token/],
    ['a numeric spec.token', { apiVersion: V1, kind: 'TokenReview', spec: { token: 12 } }, /spec\.token/],
    ['bad spec.audiences', { apiVersion: V1, kind: 'TokenReview', spec: { token: 'x', audiences: 'api' } }, /audiences/],
  ];
  for (const [what, body, reason] of malformed) {
    it(`answers ${what} with 400 and a reason`, async () => {
      const res = await post(h.url, body);
      assert.equal(res.status, 400);
      assert.match(res.json.error, reason);
    });
  }

  it('answers an empty body with 400', async () => {
    const res = await fetch(h.url, { method: 'POST' });
    assert.equal(res.status, 400);
  });

  it('answers other methods with 405', async () => {
    const res = await fetch(h.url, { headers: { 'x-request-id': 'trace-405' } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.equal(res.headers.get('x-request-id'), 'trace-405', 'a sane incoming request id is kept');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { error: 'method not allowed: use POST' });
  });

  it('never logs a whole token, and reports outcomes', async () => {
    const token = idToken({ sub: 'pam:log-check' });
    await post(h.url, reviewBody(token));
    await post(h.url, reviewBody(idToken({ exp: nowSec() - 1 })));
    assert.ok(h.logs.length > 0);
    const [, payload, signature] = token.split('.');
    for (const line of h.logs) {
      assert.equal(line.includes(token), false);
      assert.equal(line.includes(signature!), false);
      assert.equal(line.includes(payload!), false);
    }
    assert.ok(h.outcomes.includes('authenticated'));
    assert.ok(h.outcomes.includes('rejected'));
    assert.ok(h.outcomes.includes('malformed'));
  });

  it('answers 500 JSON without a stack when something unexpected throws', async () => {
    const broken = await serve({
      verifier: {
        verify() {
          throw new Error('boom at /secret/path.ts:1');
        },
      },
    });
    try {
      const res = await post(broken.url, reviewBody('x'));
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, { error: 'internal error' });
      assert.deepEqual(broken.outcomes, ['error']);
    } finally {
      await broken.close();
    }
  });
});

describe('TokenReview claim mapping', () => {
  it('applies username and group prefixes and drops system: groups', async () => {
    const h = await serve({ mapping: { usernamePrefix: 'unixid:', groupsPrefix: 'unixid:' } });
    try {
      const res = await post(h.url, reviewBody(idToken({ groups: 'ops' })));
      assert.deepEqual(res.json.status.user, {
        username: 'unixid:alice',
        uid: 'pam:1000',
        groups: ['unixid:ops'],
        extra: { 'unixid.io/uid-number': ['1000'], 'unixid.io/gid-number': ['1000'] },
      });
    } finally {
      await h.close();
    }
  });

  it('takes the username from another claim and refuses system: usernames', async () => {
    const h = await serve({ mapping: { usernameClaim: 'sub' } });
    try {
      assert.equal((await post(h.url, reviewBody(idToken()))).json.status.user.username, 'pam:1000');
      assert.deepEqual((await post(h.url, reviewBody(idToken({ sub: 'system:admin' })))).json, notAuthenticated());
    } finally {
      await h.close();
    }
  });

  it('answers a user without groups or numbers with empty groups and extra', async () => {
    const h = await serve();
    try {
      const token = jwt({ iss: ISSUER, aud: [CLIENT_ID, 'x'], sub: 'ldap:bob', preferred_username: 'bob', exp: nowSec() + 60 });
      assert.deepEqual((await post(h.url, reviewBody(token))).json.status.user, { username: 'bob', uid: 'ldap:bob', groups: [], extra: {} });
    } finally {
      await h.close();
    }
  });
});

describe('TokenReview revocation (memory store)', () => {
  let store: Store;
  let h: Harness;
  before(async () => {
    store = createStore({ keyPrefix: 'test:', connectTimeoutMs: 500 }, pino({ level: 'silent' }));
    h = await serve({ revocation: createGrantLiveness(store.Adapter) });
  });
  after(async () => {
    await h.close();
    await store.close();
  });

  it('accepts a token whose grant is alive and rejects it at once when the grant is destroyed', async () => {
    await new store.Adapter('Grant').upsert('grant-live', { accountId: 'pam:1000', exp: nowSec() + 600 }, 600);
    const token = idToken({ grant_id: 'grant-live' });
    assert.equal((await post(h.url, reviewBody(token))).json.status.authenticated, true);
    // The second review caches the verification and the third is a hit; the grant is still checked on every review.
    assert.equal((await post(h.url, reviewBody(token))).json.status.authenticated, true);
    assert.equal((await post(h.url, reviewBody(token))).json.status.authenticated, true);
    await createGrantRevoker(store.Adapter)('grant-live');
    assert.deepEqual((await post(h.url, reviewBody(token))).json, notAuthenticated());
  });

  it('rejects a token without grant_id, or with an unknown grant', async () => {
    assert.deepEqual((await post(h.url, reviewBody(idToken({ grant_id: undefined })))).json, notAuthenticated());
    assert.deepEqual((await post(h.url, reviewBody(idToken({ grant_id: 'never-existed' })))).json, notAuthenticated());
  });

  it('answers authenticated:false with an error (uncached) when the store fails or hangs', async () => {
    const failing = await serve({ revocation: { isAlive: () => Promise.reject(new Error('ECONNREFUSED')) } });
    const hanging = await serve({ revocation: { isAlive: () => new Promise<boolean>(() => {}) }, revocationTimeoutMs: 200 });
    try {
      for (const srv of [failing, hanging]) {
        const res = await post(srv.url, reviewBody(idToken(), V1BETA1));
        assert.equal(res.status, 200);
        assert.deepEqual(res.json, { apiVersion: V1BETA1, kind: 'TokenReview', status: { authenticated: false, error: 'revocation store unavailable' } });
        assert.deepEqual(srv.outcomes, ['error']);
      }
      // A foreign token never reaches the store, so it still gets the plain (cacheable) answer.
      assert.deepEqual((await post(failing.url, reviewBody('garbage'))).json, notAuthenticated());
    } finally {
      await failing.close();
      await hanging.close();
    }
  });
});

describe('TokenReview revocation (Redis)', () => {
  let redis: RedisServer;
  let store: Store;
  let h: Harness;
  before(async () => {
    redis = await startRedis();
    store = createStore({ redisUrl: redis.url, keyPrefix: 'unixid-test:', connectTimeoutMs: 500 }, pino({ level: 'silent' }));
    h = await serve({ revocation: createGrantLiveness(store.Adapter), revocationTimeoutMs: 1500 });
    // The client connects in the background.
    const deadline = Date.now() + 5000;
    while (!(await store.ready()).ok) {
      if (Date.now() > deadline) throw new Error('redis client never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    await h.close();
    await store.close();
    await redis.dispose();
  });

  it('follows the grant in Redis, and fails closed without caching while Redis is down', async () => {
    await new store.Adapter('Grant').upsert('grant-r', { accountId: 'pam:1000', exp: nowSec() + 600 }, 600);
    const token = idToken({ grant_id: 'grant-r' });
    assert.equal((await post(h.url, reviewBody(token))).json.status.authenticated, true);

    await redis.stop();
    const started = Date.now();
    const down = await post(h.url, reviewBody(token));
    assert.equal(down.status, 200);
    assert.deepEqual(down.json.status, { authenticated: false, error: 'revocation store unavailable' });
    assert.ok(Date.now() - started < 3000, 'an outage is answered quickly');

    await redis.restart();
    const deadline = Date.now() + 10_000;
    let back: any;
    do {
      await new Promise((r) => setTimeout(r, 100));
      back = (await post(h.url, reviewBody(token))).json;
    } while (!back.status.authenticated && Date.now() < deadline);
    assert.equal(back.status.authenticated, true, 'the grant survives the restart (AOF) and access comes back');

    await createGrantRevoker(store.Adapter)('grant-r');
    assert.deepEqual((await post(h.url, reviewBody(token))).json, notAuthenticated());
  });
});
