// RFC 8628 §3.5 polling intervals on the device-code grant, against a real Redis and unixid with
// the harness's 1 s interval: a poll sooner than its code's interval is answered 400 slow_down
// before oidc-provider sees it, the interval of that code grows by 5 s, and the polls the gate
// lets through (their bodies read by it first) still reach a working device grant. Only codes
// oidc-provider has answered authorization_pending get a record: made-up ones write nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../harness/http-client.js';
import { approveDevice, kubeloginClient, verifyLikeApiserver } from '../harness/oidc-flows.js';
import { redisCli, startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, TEST_DEVICE_POLL_INTERVAL_SECONDS, type UnixidProcess } from '../harness/unixid.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const alice = USERS.find((u) => u.name === 'alice')!;
/** What oidc-provider prints (once) when it takes a body from req.body instead of the stream. */
const UPSTREAM_PARSER_NOTICE = /already parsed request body detected/;

interface PollAnswer {
  status: number;
  cacheControl: string | null;
  body: { error?: string; error_description?: string; id_token?: string; refresh_token?: string };
}

/** Start a device authorization as kubelogin does; resolves the response as sent (interval included). */
async function deviceAuthorization(server: UnixidProcess): Promise<Record<string, unknown> & { device_code: string; user_code: string; verification_uri: string }> {
  const res = await fetch(`${server.url}/device/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ client_id: 'kubernetes', scope: 'openid' }),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown> & { device_code: string; user_code: string; verification_uri: string };
}

/** One device-code poll of the token endpoint (at `path`), as kubelogin sends it. */
async function poll(server: UnixidProcess, deviceCode: string, path = '/token'): Promise<PollAnswer> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'kubernetes' }),
  });
  return { status: res.status, cacheControl: res.headers.get('cache-control'), body: (await res.json()) as PollAnswer['body'] };
}

/** A device code nobody was given, shaped like a real one. */
const madeUpCode = (): string => randomBytes(32).toString('base64url');

/** The device-code poll records in Redis (every key prefix). */
async function pollKeys(redis: RedisServer): Promise<string[]> {
  const out = await redisCli(redis.port, ['--scan', '--pattern', '*devicePoll:*']);
  return out === '' ? [] : out.split('\n');
}

/** The same poll with a chunked body (no Content-Length), sent in two pieces. */
function pollChunked(server: UnixidProcess, deviceCode: string): Promise<PollAnswer> {
  const form = new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'kubernetes' }).toString();
  const url = new URL(`${server.url}/token`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, cacheControl: res.headers['cache-control'] ?? null, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as PollAnswer['body'] }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const half = Math.floor(form.length / 2);
    req.write(form.slice(0, half));
    setTimeout(() => req.end(form.slice(half)), 20);
  });
}

function assertPending(answer: PollAnswer, what: string): void {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error, 'authorization_pending', what);
}

/** A slow_down answer, as RFC 8628 has it; resolves the interval it names, in seconds. */
function assertSlowDown(answer: PollAnswer, what: string): number {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error, 'slow_down', `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.cacheControl, 'no-store', what);
  const m = /wait at least (\d+) seconds/.exec(answer.body.error_description ?? '');
  assert.ok(m, `${what}: error_description ${answer.body.error_description}`);
  return Number(m[1]);
}

/** Log lines (raw) that contain any of `secrets`. */
function linesWith(server: UnixidProcess, secrets: string[]): string[] {
  return server.logs.filter((l) => secrets.some((s) => l.includes(s)));
}

describe('device-code polling intervals (RFC 8628 slow_down), Redis', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let accounts: UnixAccounts;
  let server: UnixidProcess;
  const codes: string[] = [];
  let slowDowns = 0;

  const track = (answer: PollAnswer): PollAnswer => {
    if (answer.body.error === 'slow_down') slowDowns++;
    return answer;
  };
  const start = async () => {
    const device = await deviceAuthorization(server);
    codes.push(device.device_code);
    return device;
  };

  before(async () => {
    tmp = await tempDir('e2e-device-polling');
    redis = await startRedis();
    accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({ dir: tmp.dir, redisUrl: redis.url, env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service } });
  });
  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  it('advertises the configured interval with every device code', async () => {
    const device = await start();
    assert.equal(device.interval, TEST_DEVICE_POLL_INTERVAL_SECONDS);
  });

  // The first test that polls: Redis holds no poll record yet.
  it('made-up device codes, each polled twice in a row, get invalid_grant (never slow_down) and leave no record in Redis', async () => {
    const madeUp = Array.from({ length: 20 }, madeUpCode);
    codes.push(...madeUp);
    for (const [i, c] of madeUp.entries()) {
      for (const which of ['first', 'second']) {
        const answer = await poll(server, c);
        assert.equal(answer.status, 400, `code ${i}, ${which} poll: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error, 'invalid_grant', `code ${i}, ${which} poll: ${JSON.stringify(answer.body)}`);
      }
    }
    assert.deepEqual(await pollKeys(redis), [], 'no devicePoll:* key');

    // A real pending code gets its record from its first poll: slow_down at once, and one key, with a TTL.
    const real = await start();
    assertPending(track(await poll(server, real.device_code)), 'a real code, first poll');
    assertSlowDown(track(await poll(server, real.device_code)), 'the real code at once');
    const keys = await pollKeys(redis);
    assert.equal(keys.length, 1, `one record: ${keys.join(' ')}`);
    assert.ok(Number(await redisCli(redis.port, ['PTTL', keys[0]!])) > 0, 'with a TTL');
  });

  it('a pending answer written as an HTML page (Accept: text/html) is recorded as well', async () => {
    const h = await start();
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: h.device_code, client_id: 'kubernetes' }),
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /html/);
    await res.body?.cancel();
    assertSlowDown(track(await poll(server, h.device_code)), 'a JSON poll at once after the HTML one');
  });

  it('a second poll at once is slow_down (400); waiting the grown interval goes through; the interval stays 5 s longer', async () => {
    const x = await start();
    const y = await start();
    assertPending(track(await poll(server, x.device_code)), 'first poll');
    assert.equal(assertSlowDown(track(await poll(server, x.device_code)), 'second poll at once'), 1 + 5);
    assertPending(track(await poll(server, y.device_code)), 'another device code is not slowed down');

    // Waited the grown interval (6 s): the poll reaches the device grant again.
    await sleep(6000);
    assertPending(track(await poll(server, x.device_code)), 'after waiting the grown interval');

    // 1.5 s: past the old 1 s interval, short of 6 s: slow_down again, and the interval grows once more.
    await sleep(1500);
    assert.equal(assertSlowDown(track(await poll(server, x.device_code)), '1.5 s later'), 1 + 5 + 5);
  });

  it('matches the token route as oidc-provider does (any case, a trailing slash)', async () => {
    const v = await start();
    assertPending(track(await poll(server, v.device_code, '/Token/')), 'first poll at /Token/');
    assertSlowDown(track(await poll(server, v.device_code, '/TOKEN')), 'second poll at /TOKEN');
  });

  it('after approval the device grant issues tokens to polls whose bodies the gate read first (Content-Length and chunked)', async () => {
    const z = await start();
    assertPending(track(await poll(server, z.device_code)), 'before approval');
    const done = await approveDevice(new Browser(), z.verification_uri, z.user_code, alice.name, alice.password);
    assert.match(done.body, /close this window/i);
    await sleep(1100);
    const answer = track(await poll(server, z.device_code));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const claims = await verifyLikeApiserver(answer.body.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'alice');

    // The other grants go through the same body read: the refresh token it came with works.
    const config = await kubeloginClient(server.issuer);
    const refreshed = await oidc.refreshTokenGrant(config, answer.body.refresh_token!);
    assert.ok(refreshed.id_token);
    // Bodies with a Content-Length went back into their streams: oidc-provider read them itself.
    assert.deepEqual(server.logs.filter((l) => UPSTREAM_PARSER_NOTICE.test(l)), []);

    // A chunked body is known whole only at its end: it is handed over as req.body, which
    // oidc-provider parses the same way (with its one-time notice about upstream parsers). The gate
    // reads it too: a pending code polled chunked at once is slow_down.
    const w = await start();
    assertPending(track(await pollChunked(server, w.device_code)), 'a chunked poll while pending');
    assertSlowDown(track(await pollChunked(server, w.device_code)), 'a chunked poll at once');
    const u = await start();
    await approveDevice(new Browser(), u.verification_uri, u.user_code, alice.name, alice.password);
    const chunked = track(await pollChunked(server, u.device_code));
    assert.equal(chunked.status, 200, JSON.stringify(chunked.body));
    assert.ok(chunked.body.id_token);
    assert.equal(server.logs.filter((l) => UPSTREAM_PARSER_NOTICE.test(l)).length, 1);
  });

  it('openid-client, which follows the advertised interval, never sees slow_down', async () => {
    const config = await kubeloginClient(server.issuer);
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    codes.push(device.device_code);
    const before = await slowDownMetric(server);
    const pending = oidc.pollDeviceAuthorizationGrant(config, device);
    await sleep(2500); // two or three polls while pending
    await approveDevice(new Browser(), device.verification_uri, device.user_code, alice.name, alice.password);
    const tokens = await pending;
    assert.ok(tokens.id_token);
    assert.equal(await slowDownMetric(server), before, 'no slow_down answered meanwhile');
  });

  it('counts every slow_down in unixid_device_poll_slow_downs_total, and never logs a device code', async () => {
    assert.ok(slowDowns >= 4);
    assert.equal(await slowDownMetric(server), slowDowns);
    await server.waitForLog(/device-code poll too soon: slow_down/);
    assert.deepEqual(linesWith(server, codes), []);
  });

  it('fails open: with Redis down a poll goes through to the grant (never slow_down), with a warning that has no code', async () => {
    const f = await start();
    await redis.stop();
    const answers = [await poll(server, f.device_code), await poll(server, f.device_code)];
    for (const a of answers) assert.notEqual(a.body.error, 'slow_down', JSON.stringify(a.body));
    // The grant answers as it always did without its store.
    for (const a of answers) assert.equal(a.body.error, 'temporarily_unavailable', JSON.stringify(a.body));
    const warning = await server.waitForLog(/device poll gate unavailable/);
    assert.equal((JSON.parse(warning) as { level: unknown }).level, 'warn');
    assert.deepEqual(linesWith(server, codes), []);
  });
});

describe('device-code polling intervals, memory store', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: UnixidProcess;

  before(async () => {
    tmp = await tempDir('e2e-device-polling-memory');
    server = await startUnixid({ dir: tmp.dir });
  });
  after(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  it('enforces the interval in the process when there is no Redis', async () => {
    const device = await deviceAuthorization(server);
    assert.equal(device.interval, TEST_DEVICE_POLL_INTERVAL_SECONDS);
    assertPending(await poll(server, device.device_code), 'first poll');
    assert.equal(assertSlowDown(await poll(server, device.device_code), 'second poll at once'), 1 + 5);
  });

  it('made-up device codes polled twice in a row get invalid_grant, never slow_down', async () => {
    for (let i = 0; i < 5; i++) {
      const c = madeUpCode();
      for (const which of ['first', 'second']) assert.equal((await poll(server, c)).body.error, 'invalid_grant', `code ${i}, ${which} poll`);
    }
  });
});

/** The value of unixid_device_poll_slow_downs_total on the server's /metrics. */
async function slowDownMetric(server: UnixidProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^unixid_device_poll_slow_downs_total (\d+)$/m.exec(text);
  assert.ok(m, 'the series is exposed');
  return Number(m[1]);
}
