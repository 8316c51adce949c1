import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCommandLine } from '../../src/cli/args.js';
import { unban } from '../../src/cli/unban.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createStore, type Store } from '../../src/store/create-store.js';
import { createRedisLoginThrottle, type LoginThrottle } from '../../src/store/login-throttle.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';

const LIMITS = {
  username: { maxFailures: 2, windowSeconds: 60, banSeconds: 600 },
  ip: { maxFailures: 2, windowSeconds: 60, banSeconds: 600 },
};

/** Runs `unixid unban ...argv` against `config`; resolves the exit code and what it printed. */
async function run(config: Config, ...argv: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const code = await unban(config, parseCommandLine(['unban', ...argv]), out);
  return { code, text };
}

describe('unixid unban', () => {
  let server: RedisServer;
  let config: Config;
  let store: Store;
  let throttle: LoginThrottle;

  before(async () => {
    server = await startRedis();
    config = await loadConfig({ env: {}, flags: { 'store.redisUrl': server.url, 'store.keyPrefix': 'unban-test:' } });
    store = createStore(config.store, pino({ level: 'silent' }));
    await waitFor('redis ready', async () => (await store.ready()).ok);
    // What a running replica would use: the same Redis and key prefix.
    throttle = createRedisLoginThrottle(store.redis!, { ...LIMITS, keyPrefix: config.store.keyPrefix });
  });
  after(async () => {
    await store?.close();
    await server?.dispose();
  });

  it('lifts a username ban (exit 0), then finds nothing to lift (exit 1)', async () => {
    await throttle.failed('alice', '192.0.2.1');
    await throttle.failed('alice', '192.0.2.2');
    assert.equal((await throttle.check('alice', '198.51.100.1')).allowed, false);

    const first = await run(config, 'alice');
    assert.equal(first.code, 0, first.text);
    assert.match(first.text, /^unbanned user 'alice': the ban had (599|600) s left; 2 recent failures cleared\n$/);
    assert.deepEqual(await throttle.check('alice', '198.51.100.1'), { allowed: true, counted: false }, 'the ban and the counter are gone');

    const second = await run(config, 'alice');
    assert.equal(second.code, 1, second.text);
    assert.equal(second.text, "user 'alice' was not banned; 0 recent failures cleared\n");
  });

  it('folds the name as the throttle does and says so', async () => {
    await throttle.failed('bob', '192.0.2.3');
    await throttle.failed('BOB', '192.0.2.3');
    const r = await run(config, 'ＢＯＢ');
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /^unbanned user 'ＢＯＢ' \(counted as 'bob'\)/);
  });

  it('clears a counter that has not reached a ban yet (exit 1)', async () => {
    await throttle.failed('carol', '192.0.2.4');
    const r = await run(config, 'carol');
    assert.equal(r.code, 1);
    assert.equal(r.text, "user 'carol' was not banned; 1 recent failure cleared\n");
    assert.equal((await throttle.status({ username: 'carol' })).failures, 0);
  });

  it('lifts an address ban; an IPv6 address names its /64', async () => {
    await throttle.failed('x1', '203.0.113.9');
    await throttle.failed('x2', '::ffff:203.0.113.9');
    assert.equal((await throttle.check('x3', '203.0.113.9')).allowed, false);
    const v4 = await run(config, '203.0.113.9');
    assert.equal(v4.code, 0, v4.text);
    assert.match(v4.text, /^unbanned address 203\.0\.113\.9: /);
    assert.deepEqual(await throttle.check('x3', '203.0.113.9'), { allowed: true, counted: false });

    await throttle.failed('y1', '2001:db8:7:8::1');
    await throttle.failed('y2', '2001:db8:7:8::2');
    const v6 = await run(config, '2001:db8:7:8::99');
    assert.equal(v6.code, 0, v6.text);
    assert.match(v6.text, /^unbanned address 2001:db8:7:8::\/64 \(from 2001:db8:7:8::99\): /);
    assert.deepEqual(await throttle.check('y3', '2001:db8:7:8::1'), { allowed: true, counted: false });

    await throttle.failed('z1', '2001:db8:9:9::1');
    await throttle.failed('z2', '2001:db8:9:9::1');
    assert.equal((await run(config, '2001:db8:9:9::/64')).code, 0, 'the /64 as printed is accepted too');
  });

  it('user: and ip: prefixes force the reading of the argument', async () => {
    await throttle.failed('10.9.8.7', '192.0.2.5');
    await throttle.failed('10.9.8.7', '192.0.2.6');
    const asAddress = await run(config, '10.9.8.7');
    assert.equal(asAddress.code, 1, 'read as an address: not banned');
    const asUser = await run(config, 'user:10.9.8.7');
    assert.equal(asUser.code, 0, asUser.text);
    assert.match(asUser.text, /^unbanned user '10\.9\.8\.7'/);
    const ip = await run(config, 'ip:192.0.2.77');
    assert.equal(ip.code, 1);
    assert.match(ip.text, /^address 192\.0\.2\.77 was not banned/);
  });

  it('usage errors exit 2 with the usage text', async () => {
    for (const argv of [[], ['alice', 'bob'], ['ip:not-an-address'], ['user:']]) {
      const r = await run(config, ...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.text}`);
      assert.match(r.text, /usage: unixid unban USER\|IP/);
    }
  });

  it('without Redis there is nothing shared to unban (exit 2)', async () => {
    const memory = await loadConfig({ env: {} });
    const r = await run(memory, 'alice');
    assert.equal(r.code, 2);
    assert.match(r.text, /store\.redisUrl is not set, so there is nothing shared to unban/);
  });

  it('an unreachable Redis exits 2 within the connect timeout and never prints its password', async () => {
    const port = await freePort();
    const down = await loadConfig({
      env: {},
      flags: { 'store.redisUrl': `redis://:hunter2@127.0.0.1:${port}`, 'store.connectTimeoutMs': 800 },
    });
    const started = Date.now();
    const r = await run(down, 'alice');
    assert.equal(r.code, 2, r.text);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assert.match(r.text, /^unixid unban: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ within 800 ms: connect ECONNREFUSED/);
    assert.ok(!r.text.includes('hunter2'));
  });
});
