import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createStore, type Store } from '../../src/store/create-store.js';
import { createRedisDevicePollGate, SLOW_DOWN_STEP_MS, type DevicePollGate } from '../../src/store/device-poll-gate.js';
import { pollGateConformance } from '../harness/device-poll-gate-conformance.js';
import { waitFor } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';

const PREFIX = 'unixid-test:';
const silent = pino({ level: 'silent' });
const code = (): string => randomBytes(32).toString('base64url');

/** A store on `url` (the client production uses: no offline queue, short timeouts), once connected. */
async function connectedStore(url: string): Promise<Store> {
  const store = createStore({ redisUrl: url, keyPrefix: PREFIX, connectTimeoutMs: 1000 }, silent);
  await waitFor('redis ready', async () => (await store.ready()).ok);
  return store;
}

pollGateConformance('redis', async () => {
  const redis = await startRedis();
  const store = await connectedStore(redis.url);
  // The script takes the time from the caller, so an injected clock drives it; TTLs run on Redis's own.
  let clock = Date.parse('2030-01-01T00:00:00Z');
  // Each gate its own key prefix on the one server, so that its records can be counted.
  const prefixes = new Map<DevicePollGate, string>();
  return {
    create: (options) => {
      const keyPrefix = `${PREFIX}${prefixes.size}:`;
      const gate = createRedisDevicePollGate(store.redis!, { ...options, keyPrefix, now: () => clock });
      prefixes.set(gate, keyPrefix);
      return gate;
    },
    records: async (gate) => (await store.redis!.keys(`${prefixes.get(gate)!}devicePoll:*`)).length,
    advance: (ms) => {
      clock += ms;
    },
    async close() {
      await store.close();
      await redis.dispose();
    },
  };
});

describe('redis device poll gate', () => {
  let redis: RedisServer;
  let store: Store;

  before(async () => {
    redis = await startRedis();
    store = await connectedStore(redis.url);
  });
  after(async () => {
    await store?.close();
    await redis?.dispose();
  });

  const keyOf = (c: string): string => `${PREFIX}devicePoll:${createHash('sha256').update(c).digest('base64url')}`;

  it('record() stores "<last poll> <interval>" under the SHA-256 of the code, with a TTL of one interval, then of a code lifetime once grown', async () => {
    let clock = 1_900_000_000_000;
    const gate = createRedisDevicePollGate(store.redis!, { intervalSeconds: 5, codeLifetimeSeconds: 600, keyPrefix: PREFIX, now: () => clock });
    const c = code();
    const key = keyOf(c);
    assert.deepEqual(await gate.check(c), { slowDown: false, intervalMs: 5000 });
    assert.equal(await store.redis!.exists(key), 0, 'check() of a code without a record writes nothing');

    clock += 20;
    await gate.record(c);
    assert.equal(await store.redis!.get(key), `${clock} 5000`);
    const plain = await store.redis!.pttl(key);
    assert.ok(plain > 4000 && plain <= 5000, `PTTL ${plain}`);

    clock += 1000;
    assert.deepEqual(await gate.check(c), { slowDown: true, intervalMs: 5000 + SLOW_DOWN_STEP_MS });
    assert.equal(await store.redis!.get(key), `${clock} 10000`);
    const grown = await store.redis!.pttl(key);
    assert.ok(grown > 599_000 && grown <= 600_000, `PTTL ${grown}`);

    clock += 10_000;
    assert.deepEqual(await gate.check(c), { slowDown: false, intervalMs: 10_000 }, 'on time for the grown interval');
    clock += 20;
    await gate.record(c);
    assert.equal(await store.redis!.get(key), `${clock} 10000`, 'record() keeps the grown interval');
    assert.ok((await store.redis!.pttl(key)) > 599_000);

    const keys = await store.redis!.keys(`${PREFIX}*`);
    assert.ok(keys.every((k) => !k.includes(c)), 'the raw device code is in no key');
    for (const k of keys) assert.ok((await store.redis!.pttl(k)) > 0, `${k} has a TTL`);
  });

  it('check() of made-up codes, each twice at once, writes no key and never answers slow_down', async () => {
    const gate = createRedisDevicePollGate(store.redis!, { intervalSeconds: 5, codeLifetimeSeconds: 600, keyPrefix: PREFIX });
    const madeUp = Array.from({ length: 20 }, code);
    for (const c of madeUp) {
      assert.equal((await gate.check(c)).slowDown, false);
      assert.equal((await gate.check(c)).slowDown, false);
    }
    assert.equal(await store.redis!.exists(...madeUp.map(keyOf)), 0);
  });

  it('replicas share a record, and a record made under a shorter interval obeys a longer configured one', async () => {
    let clock = 1_900_000_000_000;
    const now = () => clock;
    const a = createRedisDevicePollGate(store.redis!, { intervalSeconds: 1, codeLifetimeSeconds: 600, keyPrefix: PREFIX, now });
    const b = createRedisDevicePollGate(store.redis!, { intervalSeconds: 3, codeLifetimeSeconds: 600, keyPrefix: PREFIX, now });
    const c = code();
    assert.equal((await a.check(c)).slowDown, false);
    await a.record(c);
    clock += 2000;
    assert.deepEqual(await b.check(c), { slowDown: true, intervalMs: 3000 + SLOW_DOWN_STEP_MS }, '2 s is on time for a, too soon for b');
    clock += 2000;
    assert.deepEqual(await a.check(c), { slowDown: true, intervalMs: 3000 + 2 * SLOW_DOWN_STEP_MS }, 'a sees the interval b grew');
  });

  it('rejects quickly, without the code in the message, when Redis is down', async () => {
    const own = await startRedis();
    const s = await connectedStore(own.url);
    try {
      const gate = createRedisDevicePollGate(s.redis!, { intervalSeconds: 5, codeLifetimeSeconds: 600, keyPrefix: PREFIX });
      await own.stop();
      await waitFor('client sees the outage', async () => s.redis!.status !== 'ready');
      const c = code();
      const started = Date.now();
      for (const call of [() => gate.check(c), () => gate.record(c)]) {
        await assert.rejects(call(), (err: Error) => {
          assert.match(err.message, /^device poll gate failed/);
          assert.ok(!err.message.includes(c));
          return true;
        });
      }
      assert.ok(Date.now() - started < 3000, 'no long wait');
    } finally {
      await s.close();
      await own.dispose();
    }
  });
});

