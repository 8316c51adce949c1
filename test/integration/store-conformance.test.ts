import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Cluster, type Redis } from 'ioredis';
import type { AdapterPayload } from 'oidc-provider';
import { pino, type Logger } from 'pino';
import { createMemoryAdapterClass } from '../../src/store/memory-adapter.js';
import { createRedisAdapterClass } from '../../src/store/redis-adapter.js';
import { createStore, parseRedisUrl, redactRedisUrl, type Store } from '../../src/store/create-store.js';
import { adapterConformance, type ConformanceTarget } from '../harness/adapter-conformance.js';
import { waitFor } from '../harness/ports.js';
import { recordingCommands, startRedis, startSentinel, type RedisServer } from '../harness/redis.js';

const PREFIX = 'unixid-test:';
const p = (fields: Record<string, unknown>): AdapterPayload => fields as AdapterPayload;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A debug-level logger whose lines land in an array (and the raw text, for "never logged" checks). */
function captureLogger(): { logger: Logger; lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void raw.push(line) });
  return {
    logger,
    get lines() {
      return raw.map((l) => JSON.parse(l) as LogLine);
    },
    text: () => raw.join(''),
  };
}

async function untilReady(store: Store, timeoutMs = 10_000): Promise<void> {
  await waitFor('store ready', async () => (await store.ready()).ok, timeoutMs);
}

/** Every key on one Redis node with its PTTL. */
async function keysOf(node: Redis): Promise<Array<{ key: string; ttlMs: number }>> {
  const out: Array<{ key: string; ttlMs: number }> = [];
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) out.push({ key, ttlMs: await node.pttl(key) });
  } while (cursor !== '0');
  // PTTL -2: expired between SCAN and PTTL, so not held any more.
  return out.filter((k) => k.ttlMs !== -2);
}

adapterConformance('memory', async () => {
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const Adapter = createMemoryAdapterClass({ now: () => clock });
  return {
    Adapter,
    prefix: '',
    now: () => clock,
    advance: async (ms) => {
      clock += ms;
    },
    keys: async () => Adapter.dump(),
  };
});

async function redisTarget(server: RedisServer, store: Store): Promise<ConformanceTarget> {
  await untilReady(store);
  const redis = store.redis!;
  return {
    Adapter: store.Adapter,
    prefix: PREFIX,
    now: Date.now,
    advance: (ms) => sleep(ms),
    keys: () => keysOf(redis),
    close: async () => {
      await store.close();
      await server.dispose();
    },
  };
}

adapterConformance('redis', async () => {
  const server = await startRedis();
  const store = createStore({ redisUrl: server.url, keyPrefix: PREFIX, connectTimeoutMs: 2000 }, pino({ level: 'silent' }));
  return redisTarget(server, store);
});

adapterConformance('redis via sentinel (redis+sentinel://)', async () => {
  const server = await startRedis();
  const sentinel = await startSentinel(server.port, 'mymaster');
  const store = createStore(
    { redisUrl: `redis+sentinel://127.0.0.1:${sentinel.port}/mymaster`, keyPrefix: PREFIX, connectTimeoutMs: 2000 },
    pino({ level: 'silent' }),
  );
  const target = await redisTarget(server, store);
  return {
    ...target,
    close: async () => {
      await target.close?.();
      await sentinel.stop();
    },
  };
});

adapterConformance('redis cluster (one node, per-key commands)', async () => {
  const server = await startRedis({ cluster: true });
  const cluster = new Cluster([{ host: '127.0.0.1', port: server.port }], { enableOfflineQueue: true });
  cluster.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cluster client not ready after 10 s')), 10_000);
    cluster.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const node = cluster.nodes('master')[0];
  assert.ok(node);
  return {
    Adapter: createRedisAdapterClass(cluster, PREFIX),
    prefix: PREFIX,
    now: Date.now,
    advance: (ms) => sleep(ms),
    keys: () => keysOf(node),
    close: async () => {
      cluster.disconnect();
      await server.dispose();
    },
  };
});

describe('redis store: durability and outages', () => {
  let server: RedisServer;
  let store: Store;
  const log = captureLogger();

  before(async () => {
    server = await startRedis();
    store = createStore({ redisUrl: server.url, keyPrefix: PREFIX, connectTimeoutMs: 1000 }, log.logger);
    await untilReady(store);
  });
  after(async () => {
    await store?.close();
    await server?.dispose();
  });

  it('data survives a redis-server restart (AOF), consumed marks and indexes included', async () => {
    const [sid, uid, rt, g] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await new store.Adapter('Session').upsert(sid, p({ uid, accountId: 'alice' }), 3600);
    await new store.Adapter('RefreshToken').upsert(rt, p({ grantId: g }), 3600);
    await new store.Adapter('RefreshToken').consume(rt);

    await server.restart();
    await untilReady(store);

    assert.equal((await new store.Adapter('Session').findByUid(uid))?.accountId, 'alice');
    assert.equal(typeof (await new store.Adapter('RefreshToken').find(rt))?.consumed, 'number');
    const keys = await keysOf(store.redis!);
    assert.ok(keys.length >= 4);
    for (const k of keys) assert.ok(k.ttlMs > 0, `${k.key} lost its TTL across the restart`);
    await new store.Adapter('AccessToken').revokeByGrantId(g);
    assert.equal(await new store.Adapter('RefreshToken').find(rt), undefined);
  });

  it('destroying an Interaction is one command; a Session is read first to find its uid index entry', async () => {
    const redis = store.redis!;
    const [iid, sid, uid] = [randomUUID(), randomUUID(), randomUUID()];
    await new store.Adapter('Interaction').upsert(iid, p({ returnTo: 'https://rp.example/cb' }), 60);
    await new store.Adapter('Session').upsert(sid, p({ uid, accountId: 'alice' }), 60);
    await recordingCommands(redis, async (sent) => {
      await new store.Adapter('Interaction').destroy(iid);
      assert.deepEqual(sent, ['unlink']);
      sent.length = 0;
      await new store.Adapter('Session').destroy(sid);
      assert.equal(sent[0], 'hget', `commands sent: ${sent.join(', ')}`);
    });
    assert.equal(await new store.Adapter('Interaction').find(iid), undefined);
    assert.equal(await new store.Adapter('Session').findByUid(uid), undefined);
    assert.equal(await redis.exists(`${PREFIX}uid:${uid}`), 0);
  });

  it('with Redis stopped, calls reject within seconds; the same client recovers after restart', async () => {
    const client = store.redis;
    const a = new store.Adapter('AccessToken');
    const before = log.lines.length;

    await server.stop();
    const started = Date.now();
    await assert.rejects(a.find(randomUUID()));
    await assert.rejects(a.upsert(randomUUID(), p({}), 60));
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    const ready = await store.ready();
    assert.equal(ready.ok, false);
    assert.match(ready.detail ?? '', /redis/);

    // Let several reconnect attempts fail: still one error line for the outage.
    await sleep(2500);
    await server.restart();
    await untilReady(store);
    assert.equal(store.redis, client, 'no new client');
    const rid = randomUUID();
    await a.upsert(rid, p({ ok: true }), 60);
    assert.deepEqual(await a.find(rid), { ok: true });

    const outage = log.lines.slice(before);
    assert.equal(outage.filter((l) => l.level >= 50).length, 1, JSON.stringify(outage));
    assert.equal(outage.filter((l) => l.msg.includes('connection lost')).length, 1);
    assert.equal(outage.filter((l) => l.msg.includes('restored')).length, 1);
  });

  it('a hung Redis (no answers) makes calls time out rather than hang', async () => {
    const a = new store.Adapter('AccessToken');
    await server.pause();
    try {
      const started = Date.now();
      await assert.rejects(a.find(randomUUID()), /timed out/i);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
      assert.equal((await store.ready()).ok, false);
    } finally {
      await server.resume();
    }
    await untilReady(store);
    await a.upsert('after-pause', p({ ok: true }), 60);
    assert.ok(await a.find('after-pause'));
  });
});

describe('createStore', () => {
  it('without a redisUrl builds a working memory store', async () => {
    const store = createStore({ keyPrefix: PREFIX, connectTimeoutMs: 1000 }, pino({ level: 'silent' }));
    assert.equal(store.kind, 'memory');
    assert.equal(store.redis, undefined);
    assert.deepEqual(await store.ready(), { ok: true });
    await new store.Adapter('Session').upsert('s', p({ uid: 'u' }), 60);
    assert.ok(await new store.Adapter('Session').findByUid('u'));
    await store.close();
  });

  it('never logs the password, right or wrong', async () => {
    const server = await startRedis({ password: 'right-pw-4711' });
    const log = captureLogger();
    const good = createStore({ redisUrl: server.url, keyPrefix: PREFIX, connectTimeoutMs: 1000 }, log.logger);
    const bad = createStore(
      { redisUrl: `redis://default:wrong-pw-0815@127.0.0.1:${server.port}`, keyPrefix: PREFIX, connectTimeoutMs: 1000 },
      log.logger,
    );
    try {
      await untilReady(good);
      await new good.Adapter('Session').upsert('s', p({ uid: 'u' }), 60);
      await waitFor('auth error logged', async () => log.lines.some((l) => l.level >= 50));
      const badReady = await bad.ready();
      assert.equal(badReady.ok, false);
      const everything = log.text() + JSON.stringify(badReady);
      assert.ok(!everything.includes('right-pw-4711'), 'good password leaked');
      assert.ok(!everything.includes('wrong-pw-0815'), 'wrong password leaked');
      assert.match(log.text(), /default:\*\*\*@127\.0\.0\.1/);
    } finally {
      await good.close();
      await bad.close();
      await server.dispose();
    }
  });

  it('parses redis+sentinel:// URLs', () => {
    const t = parseRedisUrl('redis+sentinel://app:p%40ss@s1:26380,s2,[::1]:26381/mymaster/2?sentinelPassword=sp');
    assert.equal(t.url, undefined);
    assert.deepEqual(t.sentinel, {
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'mymaster',
      username: 'app',
      password: 'p@ss',
      db: 2,
      sentinelPassword: 'sp',
    });
    assert.equal(t.display, 'redis+sentinel://app:***@s1:26380,s2,[::1]:26381/mymaster/2?sentinelPassword=***');
    const tls = parseRedisUrl('rediss+sentinel://s1/m').sentinel;
    assert.equal(tls?.enableTLSForSentinelMode, true);
    assert.deepEqual(tls?.tls, {});
    assert.equal(parseRedisUrl('rediss://:pw@h:6380/1').url, 'rediss://:pw@h:6380/1');
  });

  it('rejects unsupported URLs without echoing the password', () => {
    assert.throws(
      () => parseRedisUrl('http://u:topsecret@h/'),
      (err: Error) => err instanceof TypeError && !err.message.includes('topsecret') && err.message.includes('u:***@'),
    );
    assert.throws(() => parseRedisUrl('redis+sentinel://h1:26379'), TypeError);
    assert.equal(redactRedisUrl('redis://:pw@h:6379'), 'redis://:***@h:6379');
    assert.equal(redactRedisUrl('redis://h:6379/0'), 'redis://h:6379/0');
  });
});
