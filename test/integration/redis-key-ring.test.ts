import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { keys as keysCli } from '../../src/cli/keys.js';
import type { ParsedArgs } from '../../src/cli/args.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { KeysConfig } from '../../src/config/sections/keys.js';
import { createKeyRing } from '../../src/keys/create-key-ring.js';
import { toVerificationKey } from '../../src/keys/jwk.js';
import type { KeyRing, KeySet } from '../../src/keys/key-ring.js';
import { generateSigningJwk, parseSigningKeys } from '../../src/keys/load-keys.js';
import { createRingStore, ringKey } from '../../src/keys/redis-key-ring.js';
import { createStore, type Store } from '../../src/store/create-store.js';
import { waitFor } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';

const silent = pino({ level: 'silent' });

// Short seconds, allowed by passing the config object directly (the schema asks for realistic ones).
const FAST: KeysConfig = { source: 'redis', rotationSeconds: 6, prepublishSeconds: 2, retainSeconds: 1, pollSeconds: 1 };
// Tokens live 1 s: a retired key is published for 1 + 1 s after its successor activates.
const TOKENS = { idTokenSeconds: 1 };
const SLOW: KeysConfig = { source: 'redis', rotationSeconds: 86400, prepublishSeconds: 3600, retainSeconds: 60, pollSeconds: 1 };

let redis: RedisServer;
let store: Store;
let client: Redis;
let prefixes = 0;
const rings: KeyRing[] = [];

before(async () => {
  redis = await startRedis();
  store = createStore({ redisUrl: redis.url, keyPrefix: 'unused:', connectTimeoutMs: 1000 }, silent);
  await waitFor('redis ready', async () => (await store.ready()).ok);
  client = store.redis!;
});

after(async () => {
  await Promise.all(rings.map((r) => r.close()));
  await store.close();
  await redis.dispose();
});

/** One replica's ring on the shared Redis under `prefix`, counting the keys it generates. */
async function replica(prefix: string, keys: KeysConfig, generated: { count: number } = { count: 0 }): Promise<KeyRing> {
  const ring = await createKeyRing(
    { keys, store: { redisUrl: redis.url }, dataDir: '/nonexistent', tokens: TOKENS },
    {
      redis: client,
      keyPrefix: prefix,
      logger: silent,
      production: true,
      startupTimeoutMs: 10_000,
      generate: async () => {
        generated.count++;
        return generateSigningJwk();
      },
    },
  );
  rings.push(ring);
  return ring;
}

function newPrefix(): string {
  return `krtest${++prefixes}:`;
}

const kids = (set: KeySet) => set.signing.map((k) => k.kid);

/** Every key under `prefix` with its PTTL (-1: none). */
async function redisKeys(prefix: string): Promise<Array<{ key: string; ttlMs: number }>> {
  const found = await client.keys(`${prefix}*`);
  return Promise.all(found.map(async (key) => ({ key, ttlMs: await client.pttl(key) })));
}

describe('redis key ring: several replicas', () => {
  it('two replicas started at once create one key between them and agree on the set', async () => {
    const prefix = newPrefix();
    const generated = { count: 0 };
    const [a, b] = await Promise.all([replica(prefix, SLOW, generated), replica(prefix, SLOW, generated)]);
    assert.equal(generated.count, 1, 'only one replica bootstraps');
    assert.equal(a.current().version, b.current().version);
    assert.deepEqual(kids(a.current()), kids(b.current()));
    const jwk = a.current().signing[0]!;
    assert.equal(jwk.alg, 'RS256');
    assert.equal(toVerificationKey(jwk).key.asymmetricKeyDetails?.modulusLength, 2048);
    const verification = a.current().verification[0]!;
    assert.deepEqual([verification.kid, verification.key.type, verification.key.asymmetricKeyType], [jwk.kid, 'public', 'rsa']);

    // A third replica starting later reads the same ring without generating anything.
    const c = await replica(prefix, SLOW, generated);
    assert.equal(generated.count, 1);
    assert.equal(c.current().version, a.current().version);
  });

  it('rotates on schedule: published before it signs, then signs, the old key stays published and later goes', async () => {
    const prefix = newPrefix();
    const generated = { count: 0 };
    const [a, b] = await Promise.all([replica(prefix, FAST, generated), replica(prefix, FAST, generated)]);
    const first = a.current().signing[0]!.kid;
    const history = new Map<KeyRing, string[][]>([
      [a, [kids(a.current())]],
      [b, [kids(b.current())]],
    ]);
    for (const r of [a, b]) r.onChange((set) => history.get(r)!.push(kids(set)));

    // rotation 6 s - prepublish 2 s: the next key appears ~4 s after bootstrap and signs 2 s later;
    // the old one leaves 1 s (token) + 1 s (retain) after that, before the key after next appears.
    await waitFor('the first key to be removed on both replicas', async () => [a, b].every((r) => !kids(r.current()).includes(first)), 15_000, 50);

    for (const [ring, seen] of history) {
      const second = seen.find((s) => s[0] !== first)?.[0];
      assert.ok(second, `a second key signed: ${JSON.stringify(seen)}`);
      const firstSigning = seen.findIndex((s) => s[0] === second);
      const firstPublished = seen.findIndex((s) => s.includes(second));
      assert.ok(firstPublished < firstSigning, `published before it signed: ${JSON.stringify(seen)}`);
      assert.deepEqual(seen[firstPublished], [first, second], 'next key published behind the active one');
      assert.deepEqual(seen[firstSigning], [second, first], 'the retired key stays published');
      assert.ok(seen.some((s) => s.length === 1 && s[0] === second), 'then only the new key');
      assert.ok(seen.length >= 4, `onChange fired on each change (${ring === a ? 'a' : 'b'}): ${JSON.stringify(seen)}`);
    }
    assert.deepEqual(history.get(a)!.slice(0, 4), history.get(b)!.slice(0, 4), 'both replicas went through the same sets');
    // One key per bootstrap or rotation, however many replicas.
    const everSeen = new Set([...history.values()].flat(2));
    assert.equal(generated.count, everSeen.size, `generated ${generated.count}, seen ${everSeen.size}`);
  });

  it('keeps Redis tidy: the lock expires by itself and maintenance deletes removed keys from the ring', async () => {
    const prefix = newPrefix();
    const a = await replica(prefix, FAST);
    await waitFor('a rotation', async () => (await createRingStore(client, prefix).read()).keys.length >= 2, 10_000, 100);
    await new Promise((r) => setTimeout(r, 5000));
    for (const { key, ttlMs } of await redisKeys(prefix)) {
      if (key === ringKey(prefix)) continue;
      assert.ok(ttlMs > 0, `${key} has a TTL`);
    }
    const snapshot = await createRingStore(client, prefix).read();
    // rotation 6 s, removal 2 s after retirement: never more than active + next + one retired.
    assert.ok(snapshot.keys.length <= 3, `ring holds ${snapshot.keys.length} keys`);
    assert.deepEqual(
      snapshot.keys.filter((k) => k.removeAt !== undefined && k.removeAt < Math.floor(Date.now() / 1000) - 2).map((k) => k.kid),
      [],
      'nothing lingers past removeAt',
    );
    assert.ok(a.current().signing.length >= 1);
  });

  it('writes its keys back when the ring vanishes from Redis (restart without persistence)', async () => {
    const prefix = newPrefix();
    const generated = { count: 0 };
    const a = await replica(prefix, SLOW, generated);
    const before = a.current();
    await client.del(ringKey(prefix));
    await a.refresh();
    assert.equal(a.current().version, before.version, 'still signing with the same key');
    const snapshot = await createRingStore(client, prefix).read();
    assert.deepEqual(
      snapshot.keys.map((k) => k.kid),
      kids(before),
    );
    assert.equal(generated.count, 1, 'no new key that kube-apiserver has never seen');
  });
});

describe('redis key ring: Redis outage', () => {
  it('keeps its keys and their schedule while Redis is down, and reads the ring again once it is back', async () => {
    const own = await startRedis();
    const ownStore = createStore({ redisUrl: own.url, keyPrefix: 'x:', connectTimeoutMs: 500 }, silent);
    try {
      await waitFor('redis ready', async () => (await ownStore.ready()).ok);
      const prefix = newPrefix();
      const ring = await createKeyRing(
        { keys: FAST, store: { redisUrl: own.url }, dataDir: '/nonexistent', tokens: TOKENS },
        { redis: ownStore.redis!, keyPrefix: prefix, logger: silent, production: true, startupTimeoutMs: 10_000 },
      );
      try {
        // Wait until the next key is published, then take Redis away before it activates.
        await waitFor('a next key', async () => ring.current().signing.length === 2, 10_000, 50);
        const [active, next] = kids(ring.current());
        await own.stop();
        await waitFor('the next key to sign without Redis', async () => (await ring.refresh()).signing[0]?.kid === next, 5000, 100);
        assert.deepEqual(kids(ring.current()), [next, active], 'activation happened on schedule from the stored times');
        await own.restart();
        await waitFor('redis back', async () => (await ownStore.ready()).ok, 10_000);
        const snapshot = await createRingStore(ownStore.redis!, prefix).read();
        assert.ok(snapshot.keys.some((k) => k.kid === next), 'AOF kept the ring');
        await ring.refresh();
        assert.ok(kids(ring.current()).includes(next!));
      } finally {
        await ring.close();
      }
    } finally {
      await ownStore.close();
      await own.dispose();
    }
  });
});

describe('unixid keys (redis source)', () => {
  function cliConfig(prefix: string): Config {
    const config = configSchema.parse({ store: { redisUrl: redis.url, keyPrefix: prefix } });
    // Short windows for the test; the schema would refuse them.
    return { ...config, keys: { ...config.keys, ...SLOW, prepublishSeconds: 120 } };
  }
  function args(...positionals: string[]): ParsedArgs {
    return { command: 'keys', positionals, flags: {}, stdin: false, json: positionals.includes('--json'), help: false };
  }
  function capture(): { stream: Writable; text: () => string } {
    let text = '';
    const stream = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    return { stream, text: () => text };
  }
  const connect = async () => {
    const s = createStore({ redisUrl: redis.url, keyPrefix: 'x:', connectTimeoutMs: 1000 }, silent);
    await waitFor('cli redis', async () => (await s.ready()).ok);
    return s;
  };

  it('rotate publishes the next key (prepublished, never active at once); list shows the roles; a second rotate refuses', async () => {
    const prefix = newPrefix();
    const ring = await replica(prefix, SLOW);
    const active = ring.current().signing[0]!.kid;
    const now = Date.now();

    const out = capture();
    assert.equal(await keysCli(cliConfig(prefix), args('rotate'), out.stream, { connect, now: () => now }), 0, out.text());
    assert.match(out.text(), /published the next signing key/);

    const listed = capture();
    const json = { ...args('list'), json: true };
    assert.equal(await keysCli(cliConfig(prefix), json, listed.stream, { connect, now: () => now }), 0, listed.text());
    const doc = JSON.parse(listed.text()) as { source: string; keys: Array<{ kid: string; role: string; activates: string; retires?: string }> };
    assert.equal(doc.source, 'redis');
    assert.deepEqual(
      doc.keys.map((k) => k.role),
      ['active', 'next'],
    );
    assert.equal(doc.keys[0]!.kid, active);
    assert.equal(Date.parse(doc.keys[1]!.activates), Math.floor(now / 1000) * 1000 + 120_000, 'activates prepublishSeconds from now');
    assert.equal(doc.keys[0]!.retires, doc.keys[1]!.activates);

    // Replicas see it on their next poll: published, not signing.
    await ring.refresh();
    assert.deepEqual(kids(ring.current()), [active, doc.keys[1]!.kid]);

    const again = capture();
    assert.equal(await keysCli(cliConfig(prefix), args('rotate'), again.stream, { connect, now: () => now }), 1);
    assert.match(again.text(), /already published/);

    const table = capture();
    assert.equal(await keysCli(cliConfig(prefix), args('list'), table.stream, { connect, now: () => now }), 0);
    assert.match(table.text(), /KID\s+ALG\s+ROLE\s+CREATED\s+ACTIVATES\s+RETIRES\s+REMOVED/);
    assert.match(table.text(), /RS256\s+next/);
  });

  it('generate prints a private JWK set; rotate explains itself for a key file', async () => {
    const out = capture();
    assert.equal(await keysCli(cliConfig(newPrefix()), args('generate'), out.stream), 0);
    const set = JSON.parse(out.text()) as { keys: Array<{ kid: string; alg: string; d?: string }> };
    assert.equal(set.keys.length, 1);
    assert.equal(set.keys[0]!.alg, 'RS256');
    assert.ok(set.keys[0]!.d && set.keys[0]!.kid);

    const tmp = await tempDir('keys-cli');
    try {
      const file = join(tmp.dir, 'signing-keys.json');
      const wrote = capture();
      assert.equal(await keysCli(cliConfig(newPrefix()), { ...args('generate'), out: file }, wrote.stream), 0, wrote.text());
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal(parseSigningKeys(await readFile(file, 'utf8'), file).length, 1);
      const refused = capture();
      assert.equal(await keysCli(cliConfig(newPrefix()), args('generate', file), refused.stream), 1);
      assert.match(refused.text(), /exists: not overwriting/);
    } finally {
      await tmp.remove();
    }

    const config = cliConfig(newPrefix());
    const fileConfig = { ...config, keys: { ...config.keys, source: 'file' as const, signingKeyFile: '/etc/unixid/keys.json' } };
    const text = capture();
    assert.equal(await keysCli(fileConfig, args('rotate'), text.stream), 1);
    assert.match(text.text(), /add its key AFTER the current one/);
  });
});
