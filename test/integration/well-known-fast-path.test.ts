// Discovery and JWKS are answered from a copy of oidc-provider's own first answer, before express.
// Checked on a real `unixid serve` (trust proxy on, keys from a file): the copy is byte for byte
// what oidc-provider sent, it revalidates with an ETag, each Host / X-Forwarded-* variant gets its
// own document without touching the others, the number of variants is bounded, other methods
// still reach oidc-provider, the answers are counted in the HTTP metrics, and a key rotation
// publishes the new key at once.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import type { Provider } from 'oidc-provider';
import { generateSigningJwk } from '../../src/keys/load-keys.js';
import type { PrivateJwk } from '../../src/keys/jwk.js';
import { wellKnownFastPath } from '../../src/web/well-known-cache.js';
import { tempDir } from '../harness/tmp.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const DISCOVERY = '/.well-known/openid-configuration';
// What only the fast path sends; oidc-provider's answers carry the app's nonce'd page policy.
const FAST_CSP = "default-src 'none'; frame-ancestors 'none'";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  fromCache: boolean;
}

/** One request with any headers, Host included (fetch would not send a Host of our choosing). */
function request(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8'), fromCache: res.headers['content-security-policy'] === FAST_CSP });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const json = (a: Answer) => JSON.parse(a.text) as Record<string, unknown>;
const kids = (a: Answer) => (json(a).keys as Array<{ kid: string }>).map((k) => k.kid);

describe('discovery and JWKS fast path', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: UnixidProcess;
  let keyFile: string;
  let keyA: PrivateJwk;

  before(async () => {
    tmp = await tempDir('well-known');
    keyFile = join(tmp.dir, 'signing-keys.json');
    keyA = await generateSigningJwk();
    await writeFile(keyFile, JSON.stringify({ keys: [keyA] }), { mode: 0o600 });
    server = await startUnixid({ dir: tmp.dir, env: { UNIXID_SIGNING_KEY_FILE: keyFile }, configYaml: 'server:\n  trustProxy: true\n' });
  });
  after(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  it("serves oidc-provider's own bytes from the cache, with an ETag and the security headers", async () => {
    for (const path of [DISCOVERY, '/jwks']) {
      const first = await request(server.url, path);
      assert.equal(first.status, 200, `${path}: ${first.text}`);
      assert.equal(first.fromCache, false, `${path}: the first answer comes from oidc-provider`);
      const second = await request(server.url, path, { headers: { 'x-request-id': 'well-known-1' } });
      assert.equal(second.status, 200);
      assert.equal(second.fromCache, true, `${path}: the second answer comes from the cache`);
      assert.ok(second.body.equals(first.body), `${path}: the same bytes`);
      assert.equal(second.headers['content-type'], first.headers['content-type']);
      assert.equal(Number(second.headers['content-length']), first.body.length);
      assert.match(second.headers.etag ?? '', /^"[A-Za-z0-9_-]+"$/, `${path}: a strong ETag`);
      assert.equal(second.headers.etag, first.headers.etag, `${path}: the first answer carried the same ETag`);
      assert.equal(second.headers['cache-control'], 'no-cache');
      assert.equal(second.headers['access-control-allow-origin'], '*');
      assert.equal(second.headers['x-content-type-options'], 'nosniff');
      assert.equal(second.headers['x-frame-options'], 'DENY');
      assert.equal(second.headers['referrer-policy'], 'no-referrer');
      assert.equal(second.headers['x-request-id'], 'well-known-1');
      assert.equal(second.headers['strict-transport-security'], undefined, 'no HSTS for an http issuer');
    }
    const doc = json(await request(server.url, DISCOVERY));
    assert.equal(doc.issuer, server.issuer);
    assert.equal(doc.jwks_uri, `${server.issuer}/jwks`);
    assert.deepEqual(kids(await request(server.url, '/jwks?cache-buster=1')), [keyA.kid], 'a query string does not matter');
  });

  it('If-None-Match with the ETag gives 304 without a body; HEAD gives the headers only', async () => {
    const full = await request(server.url, '/jwks');
    const etag = full.headers.etag!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await request(server.url, '/jwks', { headers: { 'if-none-match': inm } });
      assert.equal(res.status, 304, `If-None-Match: ${inm}`);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers.etag, etag);
    }
    const changed = await request(server.url, '/jwks', { headers: { 'if-none-match': '"not-it"' } });
    assert.equal(changed.status, 200);
    assert.ok(changed.body.equals(full.body));

    await request(server.url, DISCOVERY);
    const head = await request(server.url, DISCOVERY, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.fromCache, true);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers['content-length']), (await request(server.url, DISCOVERY)).body.length);
  });

  it('each Host and X-Forwarded-* variant gets its own document and never changes the others', async () => {
    const normal = await request(server.url, DISCOVERY);
    for (let i = 0; i < 2; i++) {
      const evil = await request(server.url, DISCOVERY, { headers: { host: 'evil.example' } });
      assert.equal(evil.status, 200);
      assert.equal(json(evil).token_endpoint, 'http://evil.example/token', 'oidc-provider builds endpoints on the Host it was asked for');
      assert.equal(evil.fromCache, i === 1);
    }
    const proxied = { host: '127.0.0.1', 'x-forwarded-host': 'id.example', 'x-forwarded-proto': 'https' };
    for (let i = 0; i < 2; i++) {
      const res = await request(server.url, DISCOVERY, { headers: proxied });
      assert.equal(json(res).jwks_uri, 'https://id.example/jwks', 'trust proxy: the forwarded host and scheme');
      assert.equal(res.fromCache, i === 1);
    }
    const again = await request(server.url, DISCOVERY);
    assert.equal(again.fromCache, true);
    assert.ok(again.body.equals(normal.body), 'the normal host still gets its own document');
    assert.equal(json(again).token_endpoint, `${server.issuer}/token`);
  });

  it('caches a bounded number of variants, least recently used out: stray Host headers cannot keep the real one out', async () => {
    for (let i = 0; i < 40; i++) {
      const host = `h${i}.example`;
      await request(server.url, DISCOVERY, { headers: { host } });
      const res = await request(server.url, DISCOVERY, { headers: { host } });
      assert.equal(res.status, 200);
      assert.equal(res.fromCache, true, `${host}: cached on its second request, however many came before`);
      assert.equal(json(res).issuer, server.issuer);
      assert.equal(json(res).token_endpoint, `http://${host}/token`, `${host}: its own endpoints`);
    }
    assert.equal((await request(server.url, DISCOVERY, { headers: { host: 'h0.example' } })).fromCache, false, 'the oldest variant went');
    await request(server.url, DISCOVERY);
    assert.equal((await request(server.url, DISCOVERY)).fromCache, true, 'the real host is cached again at once');
  });

  it('other methods and paths go to oidc-provider untouched', async () => {
    const post = await request(server.url, DISCOVERY, { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(post.fromCache, false);
    assert.notEqual(post.status, 200);
    const options = await request(server.url, '/jwks', { method: 'OPTIONS', headers: { origin: 'https://rp.example', 'access-control-request-method': 'GET' } });
    assert.equal(options.fromCache, false);
    assert.ok(options.status === 204 || options.status === 200, `CORS preflight: ${options.status}`);
    for (const path of ['/jwks/', '/JWKS', `${DISCOVERY}/x`, '/.well-known/oauth-authorization-server']) {
      const res = await request(server.url, path);
      assert.equal(res.fromCache, false, path);
    }
  });

  it('answers from the cache are counted in unixid_http_request_duration_seconds with the same route labels', async () => {
    await request(server.url, '/jwks');
    await request(server.url, '/jwks', { headers: { 'if-none-match': '*' } });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const count = (labels: string) => Number(new RegExp(`^unixid_http_request_duration_seconds_count\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    assert.ok(count('route="/jwks",method="GET",status="304"') >= 1, 'a 304 from the cache');
    assert.ok(count('route="/jwks",method="GET",status="200"') >= 2, '200s from oidc-provider and from the cache');
    assert.ok(count('route="/.well-known/openid-configuration",method="HEAD",status="200"') >= 1, 'a HEAD from the cache');
  });

  it('a key rotation publishes the new key at once: the cache belongs to the replaced provider', async () => {
    assert.deepEqual(kids(await request(server.url, '/jwks')), [keyA.kid]);
    assert.equal((await request(server.url, '/jwks')).fromCache, true);
    const before = await request(server.url, '/jwks');
    const keyB = await generateSigningJwk();
    await writeFile(keyFile, JSON.stringify({ keys: [keyA, keyB] }), { mode: 0o600 });
    await server.waitForLog(/signing keys changed/, 20_000);
    const first = await request(server.url, '/jwks');
    assert.deepEqual(kids(first), [keyA.kid, keyB.kid], 'the first answer after the swap has the new key');
    assert.equal(first.fromCache, false);
    assert.notEqual(first.headers.etag, before.headers.etag);
    const stale = await request(server.url, '/jwks', { headers: { 'if-none-match': before.headers.etag! } });
    assert.equal(stale.status, 200, 'the old ETag no longer matches');
    const cached = await request(server.url, '/jwks');
    assert.equal(cached.fromCache, true);
    assert.deepEqual(kids(cached), [keyA.kid, keyB.kid]);
    assert.equal(json(await request(server.url, DISCOVERY)).issuer, server.issuer);
  });
});

// The parts a running unixid does not show: HSTS for an https issuer, a failed first answer not
// kept, and the cache following the ProviderRef. The "app" behind it is a plain handler whose
// answer names the instance in force; the instances only serve as cache owners here.
describe('wellKnownFastPath on its own', () => {
  it('sends HSTS when asked, keeps only 200 answers, reports what it served, and follows the ProviderRef', async () => {
    const one = { proxy: false } as Provider;
    const two = { proxy: false } as Provider;
    const ref = { current: one };
    let failNext = true;
    let appCalls = 0;
    const served: string[] = [];
    const fast = wellKnownFastPath({ paths: ['/jwks'], provider: ref, hsts: true, onServed: (path, method, status) => served.push(`${method} ${path} ${status}`) });
    const server = http.createServer((req, res) =>
      fast(req, res, () => {
        appCalls++;
        if (failNext) {
          failNext = false;
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
          return;
        }
        const body = JSON.stringify({ keys: [{ kid: ref.current === one ? 'one' : 'two' }] });
        res.setHeader('content-type', 'application/jwk-set+json; charset=utf-8');
        res.write(body.slice(0, 5));
        res.end(body.slice(5));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await request(base, '/jwks')).status, 500);
      assert.equal((await request(base, '/jwks')).fromCache, false, 'a 500 is not kept');
      const cached = await request(base, '/jwks');
      assert.equal(cached.fromCache, true);
      assert.deepEqual(kids(cached), ['one'], 'a body written in pieces is kept whole');
      assert.equal(cached.headers['content-type'], 'application/jwk-set+json; charset=utf-8');
      assert.equal(cached.headers['strict-transport-security'], 'max-age=31536000');
      assert.equal(appCalls, 2);

      ref.current = two;
      const swapped = await request(base, '/jwks');
      assert.deepEqual(kids(swapped), ['two'], 'a new instance starts an empty cache');
      assert.equal(swapped.fromCache, false);
      assert.deepEqual(kids(await request(base, '/jwks')), ['two']);
      assert.equal(appCalls, 3);
      assert.deepEqual(served, ['GET /jwks 200', 'GET /jwks 200']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
