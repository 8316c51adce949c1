import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BackendUnavailableError } from '../../src/errors.js';
import { createStore, type Store } from '../../src/store/create-store.js';
import {
  createMemoryLoginThrottle,
  createRedisLoginThrottle,
  ThrottleUnavailableError,
  type LoginThrottle,
  type ThrottleOptions,
} from '../../src/store/login-throttle.js';
import { waitFor } from '../harness/ports.js';
import { recordingCommands, startRedis, type RedisServer } from '../harness/redis.js';
import { throttleConformance } from '../harness/throttle-conformance.js';

const PREFIX = 'unixid-test:';
const LIMITS: ThrottleOptions = {
  username: { maxFailures: 3, windowSeconds: 60, banSeconds: 60 },
  ip: { maxFailures: 5, windowSeconds: 60, banSeconds: 60 },
};
const silent = pino({ level: 'silent' });

/** A store on `url` (the client production uses: no offline queue, short timeouts), once connected. */
async function connectedStore(url: string, connectTimeoutMs = 1000): Promise<Store> {
  const store = createStore({ redisUrl: url, keyPrefix: PREFIX, connectTimeoutMs }, silent);
  await waitFor('redis ready', async () => (await store.ready()).ok);
  return store;
}

/** Every key under PREFIX with its PTTL (-1: no TTL). */
async function keysOf(redis: Redis): Promise<Array<{ key: string; ttlMs: number }>> {
  const out: Array<{ key: string; ttlMs: number }> = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) out.push({ key, ttlMs: await redis.pttl(key) });
  } while (cursor !== '0');
  return out.filter((k) => k.ttlMs !== -2);
}

throttleConformance('memory', async () => {
  let clock = Date.parse('2030-01-01T00:00:00Z');
  return {
    create: (options) => createMemoryLoginThrottle({ ...options, now: () => clock }),
    advance: async (ms) => {
      clock += ms;
    },
  };
});

let shared: RedisServer | undefined;
throttleConformance('redis', async () => {
  shared = await startRedis();
  const store = await connectedStore(shared.url);
  return {
    create: (options) => createRedisLoginThrottle(store.redis!, { ...options, keyPrefix: PREFIX }),
    advance: (ms) => sleep(ms),
    close: () => store.close(),
  };
});

describe('redis login throttle', () => {
  let server: RedisServer;
  let store: Store;
  let redis: Redis;

  before(async () => {
    server = await startRedis();
    store = await connectedStore(server.url);
    redis = store.redis!;
  });
  after(async () => {
    await store?.close();
    await server?.dispose();
    await shared?.dispose();
  });

  it('two replicas on one Redis share counters and bans', async () => {
    const other = await connectedStore(server.url);
    try {
      const a = createRedisLoginThrottle(redis, { ...LIMITS, keyPrefix: PREFIX });
      const b = createRedisLoginThrottle(other.redis!, { ...LIMITS, keyPrefix: PREFIX });
      await a.failed('replica-user', '203.0.113.1');
      await b.failed('Replica-User', '203.0.113.2');
      assert.deepEqual(await a.check('replica-user', '203.0.113.3'), { allowed: true, counted: true });
      await a.failed('replica-user', '203.0.113.3');
      assert.equal((await b.check('replica-user', '203.0.113.4')).allowed, false, 'replica b sees the ban a started');
      assert.equal(await b.unban({ username: 'replica-user' }), true);
      assert.deepEqual(await a.check('replica-user', '203.0.113.4'), { allowed: true, counted: false }, 'replica a sees b lift it');
    } finally {
      await other.close();
    }
  });

  it('every key written has a TTL, carries the prefix and names no username', async () => {
    await redis.flushdb();
    const t = createRedisLoginThrottle(redis, { ...LIMITS, keyPrefix: PREFIX });
    const names = ['Secret-Typo-Password!', 'bob', 'carol'];
    for (const name of names) for (let i = 0; i < 4; i++) await t.failed(name, '2001:db8:aa:bb::1');
    await t.failed('dave', '198.51.100.9');
    await t.succeeded('dave', '198.51.100.9');
    const keys = await keysOf(redis);
    assert.deepEqual((await redis.keys('*')).filter((k) => !k.startsWith(PREFIX)), [], 'everything under the prefix');
    assert.ok(keys.length >= 7, `keys: ${keys.map((k) => k.key).join(' ')}`);
    for (const { key, ttlMs } of keys) {
      assert.ok(ttlMs > 0 && ttlMs <= 60_000, `${key} has TTL ${ttlMs}`);
      for (const name of names) assert.ok(!key.toLowerCase().includes(name.toLowerCase()), `${key} names ${name}`);
    }
    assert.ok(keys.some((k) => k.key === `${PREFIX}throttle:ban:ip:2001:db8:aa:bb::/64`), 'the /64 is the address key');
    assert.ok(keys.some((k) => /^unixid-test:throttle:ban:user:[A-Za-z0-9_-]{43}$/.test(k.key)), 'username keys hold a sha256 digest');
  });

  it('check, failed and succeeded each take one round trip', async () => {
    const t = createRedisLoginThrottle(redis, { ...LIMITS, keyPrefix: PREFIX });
    // Load the scripts first: a cold EVALSHA is followed by one EVAL.
    await t.check('warm', '192.0.2.1');
    await t.failed('warm', '192.0.2.1');
    await recordingCommands(redis, async (sent) => {
      for (const op of [() => t.check('rt', '192.0.2.2'), () => t.failed('rt', '192.0.2.2'), () => t.succeeded('rt', '192.0.2.2')]) {
        sent.length = 0;
        await op();
        assert.equal(sent.length, 1, `commands sent: ${sent.join(', ')}`);
      }
    });
  });

  it('Redis stopped: every call rejects within seconds (fail closed) and works again once Redis is back', async () => {
    const own = await startRedis();
    const ownStore = await connectedStore(own.url);
    try {
      const t = createRedisLoginThrottle(ownStore.redis!, { ...LIMITS, keyPrefix: PREFIX });
      await t.failed('outage-user', '192.0.2.50');
      await own.stop();
      const started = Date.now();
      const err = await t.check('outage-user', '192.0.2.50').then(
        () => assert.fail('check resolved while Redis was down'),
        (e: unknown) => e,
      );
      assert.ok(Date.now() - started < 3000, `rejected after ${Date.now() - started} ms`);
      assert.ok(err instanceof ThrottleUnavailableError, String(err));
      assert.ok(err instanceof BackendUnavailableError, 'the login route turns it into its 503 page');
      assert.equal(err.status, 503);
      assert.ok(!err.detail?.includes('outage-user'), err.detail);
      await assert.rejects(t.failed('outage-user', '192.0.2.50'), ThrottleUnavailableError);
      await assert.rejects(t.succeeded('outage-user', '192.0.2.50'), ThrottleUnavailableError);

      await own.restart();
      await waitFor('throttle answers again', async () => (await t.check('outage-user', '192.0.2.50')).allowed, 10_000);
      assert.equal((await t.status({ username: 'outage-user' })).failures, 1, 'the AOF kept the counter');
    } finally {
      await ownStore.close();
      await own.dispose();
    }
  });

  it('Redis hung (SIGSTOP): check rejects within the timeout instead of waiting for TCP', async () => {
    const own = await startRedis();
    const ownStore = await connectedStore(own.url, 5000);
    let t: LoginThrottle;
    try {
      t = createRedisLoginThrottle(ownStore.redis!, { ...LIMITS, keyPrefix: PREFIX, timeoutMs: 1000 });
      await t.check('hung-user', '192.0.2.60');
      await own.pause();
      const started = Date.now();
      await assert.rejects(t.check('hung-user', '192.0.2.60'), ThrottleUnavailableError);
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 2500, `rejected after ${took} ms`);
    } finally {
      await own.resume();
      await ownStore.close();
      await own.dispose();
    }
  });
});
