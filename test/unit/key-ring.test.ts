import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { keysSchema } from '../../src/config/sections/keys.js';
import { createKeyRing, resolveKeySource } from '../../src/keys/create-key-ring.js';
import { createFileKeyRing } from '../../src/keys/file-key-ring.js';
import { toPrivateJwk, type PrivateJwk } from '../../src/keys/jwk.js';
import {
  describeRing,
  keySetOf,
  nextTransition,
  planMaintenance,
  publishAfterRetire,
  type KeySet,
  type KeyTimings,
  type StoredKey,
} from '../../src/keys/key-ring.js';
import { waitFor } from '../harness/ports.js';
import { tempDir } from '../harness/tmp.js';

const silent = pino({ level: 'silent' });

// EC keys: the lifecycle does not care about the algorithm, and they are fast to make.
function ecJwk(): PrivateJwk {
  return toPrivateJwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}
const [J1, J2, J3] = [ecJwk(), ecJwk(), ecJwk()] as [PrivateJwk, PrivateJwk, PrivateJwk];

// A day of rotation, an hour of pre-publication, 15 min tokens + 5 min margin.
const T: KeyTimings = { rotationSeconds: 86400, prepublishSeconds: 3600, publishAfterRetireSeconds: 900 + 300 };
const T0 = 1_800_000_000;

function key(jwk: PrivateJwk, createdAt: number, activateAt: number, extra: Partial<StoredKey> = {}): StoredKey {
  return { kid: jwk.kid, jwk, createdAt, activateAt, ...extra };
}

function roles(keys: StoredKey[], now: number): string[] {
  return describeRing(keys, now, T).map((s) => `${s.kid === J1.kid ? 'A' : s.kid === J2.kid ? 'B' : 'C'}:${s.role}`);
}

function kids(set: KeySet): string[] {
  return set.signing.map((k) => k.kid);
}

describe('key lifecycle (injected clock)', () => {
  it('bootstraps an empty ring with a key that signs at once', () => {
    const plan = planMaintenance([], T0, T);
    assert.deepEqual(plan.create, { activateAt: T0, reason: 'bootstrap' });
    assert.deepEqual(plan.remove, []);
    const a = key(J1, T0, T0);
    assert.deepEqual(roles([a], T0), ['A:active']);
    assert.deepEqual(kids(keySetOf(describeRing([a], T0, T))), [J1.kid]);
  });

  it('creates the next key rotationSeconds - prepublishSeconds after activation, activating prepublishSeconds later', () => {
    const a = key(J1, T0, T0);
    const due = T0 + T.rotationSeconds - T.prepublishSeconds;
    assert.equal(planMaintenance([a], due - 1, T).create, undefined, 'not yet due');
    const plan = planMaintenance([a], due, T);
    assert.deepEqual(plan.create, { activateAt: due + T.prepublishSeconds, reason: 'rotation' });
    // The current key learns when it retires and when it goes, so every replica and `keys list` agree.
    assert.deepEqual(plan.update, [{ ...a, retireAt: due + T.prepublishSeconds, removeAt: due + T.prepublishSeconds + T.publishAfterRetireSeconds }]);
    // Maintenance that runs late still pre-publishes for the full window.
    assert.equal(planMaintenance([a], due + 5000, T).create?.activateAt, due + 5000 + T.prepublishSeconds);
  });

  it('publishes the next key without signing with it during the prepublish window, then switches', () => {
    const created = T0 + T.rotationSeconds - T.prepublishSeconds;
    const activate = created + T.prepublishSeconds;
    const ring = [key(J1, T0, T0, { retireAt: activate, removeAt: activate + T.publishAfterRetireSeconds }), key(J2, created, activate)];

    assert.deepEqual(roles(ring, created), ['A:active', 'B:next']);
    const before = keySetOf(describeRing(ring, activate - 1, T));
    assert.deepEqual(kids(before), [J1.kid, J2.kid], 'active first, next published');
    assert.deepEqual(
      before.verification.map((v) => v.kid),
      [J1.kid, J2.kid],
    );
    // No second key while one is pending, even if asked.
    assert.equal(planMaintenance(ring, activate - 1, T).create, undefined);
    assert.equal(planMaintenance(ring, activate - 1, T, { rotate: true }).pending?.kid, J2.kid);
    assert.equal(nextTransition(ring, created, T), activate);

    const afterActivation = keySetOf(describeRing(ring, activate, T));
    assert.deepEqual(kids(afterActivation), [J2.kid, J1.kid], 'the new key signs, the old one stays published');
    assert.notEqual(afterActivation.version, before.version);
    assert.deepEqual(roles(ring, activate), ['B:active', 'A:retired']);
  });

  it('keeps a retired key published until retireAt + token lifetime + retain, then removes it', () => {
    const activate = T0 + T.rotationSeconds;
    const removeAt = activate + T.publishAfterRetireSeconds;
    // retireAt/removeAt derived from the successor when they were never stored.
    const ring = [key(J1, T0, T0), key(J2, activate - T.prepublishSeconds, activate)];
    assert.equal(describeRing(ring, activate, T).find((s) => s.kid === J1.kid)?.removeAt, removeAt);
    assert.equal(nextTransition(ring, activate, T), removeAt);

    assert.deepEqual(kids(keySetOf(describeRing(ring, removeAt - 1, T))), [J2.kid, J1.kid]);
    assert.deepEqual(planMaintenance(ring, removeAt - 1, T).remove, []);

    assert.deepEqual(roles(ring, removeAt), ['B:active', 'A:expired']);
    assert.deepEqual(kids(keySetOf(describeRing(ring, removeAt, T))), [J2.kid], 'expired keys are not published');
    const plan = planMaintenance(ring, removeAt, T);
    assert.deepEqual(plan.remove, [J1.kid]);
    assert.equal(plan.create, undefined);
  });

  it('orders three keys active, next, retired; stored times win over derived ones', () => {
    const ring = [
      key(J1, T0, T0, { retireAt: T0 + 100, removeAt: T0 + 10_000 }),
      key(J2, T0 + 50, T0 + 100),
      key(J3, T0 + 150, T0 + 200),
    ];
    assert.deepEqual(roles(ring, T0 + 160), ['B:active', 'C:next', 'A:retired']);
    // Later: C signs; B's derived window (C.activateAt + 1200) is over, while A's stored removeAt
    // (written by whichever replica created B, with its own lifetimes) still holds.
    assert.deepEqual(roles(ring, T0 + 5000), ['C:active', 'A:retired', 'B:expired']);
    assert.deepEqual(kids(keySetOf(describeRing(ring, T0 + 5000, T))), [J3.kid, J1.kid]);
  });

  it('signs with the earliest key when none has activated yet (clock behind the creator)', () => {
    const ring = [key(J1, T0, T0 + 5)];
    assert.deepEqual(roles(ring, T0), ['A:active']);
    assert.equal(planMaintenance(ring, T0, T).create, undefined, 'no second bootstrap');
  });

  it('sizes the publish window from the longest signed token plus retainSeconds', () => {
    assert.equal(publishAfterRetire({ idTokenSeconds: 900 }, 3600), 4500);
    assert.equal(publishAfterRetire({ idTokenSeconds: 900, longestSignedSeconds: 3600 }, 60), 3660);
  });
});

describe('keys config', () => {
  it('has the documented defaults and refuses prepublishSeconds >= rotationSeconds', () => {
    const d = keysSchema.parse({});
    assert.deepEqual(
      { source: d.source, rotation: d.rotationSeconds, prepublish: d.prepublishSeconds, retain: d.retainSeconds, poll: d.pollSeconds },
      { source: 'auto', rotation: 30 * 86400, prepublish: 86400, retain: 3600, poll: 30 },
    );
    const bad = keysSchema.safeParse({ rotationSeconds: 7200, prepublishSeconds: 7200 });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues.map((i) => i.path.join('.')), ['prepublishSeconds']);
    assert.equal(keysSchema.safeParse({ source: 'file' }).success, false, 'file needs signingKeyFile');
  });

  it('resolves auto: file, then redis, then generated', () => {
    assert.equal(resolveKeySource({ source: 'auto', signingKeyFile: '/k.json' }, { redisUrl: 'redis://r' }), 'file');
    assert.equal(resolveKeySource({ source: 'auto' }, { redisUrl: 'redis://r' }), 'redis');
    assert.equal(resolveKeySource({ source: 'auto' }, {}), 'generated');
    assert.equal(resolveKeySource({ source: 'generated' }, { redisUrl: 'redis://r' }), 'generated');
  });
});

describe('file key ring', async () => {
  const tmp = await tempDir('keyring');
  after(() => tmp.remove());
  const jwks = (...keys: PrivateJwk[]) => `${JSON.stringify({ keys })}\n`;

  it('signs with the first key, publishes all, reloads on change and keeps the old set on a broken file', async () => {
    const file = join(tmp.dir, 'keys.json');
    await writeFile(file, jwks(J1, J2));
    const ring = await createFileKeyRing({ file, logger: silent, pollMs: 25 });
    try {
      assert.deepEqual(kids(ring.current()), [J1.kid, J2.kid]);
      assert.deepEqual(ring.current().verification.map((v) => v.kid), [J1.kid, J2.kid]);
      const seen: KeySet[] = [];
      ring.onChange((s) => seen.push(s));

      // Activation by the operator: the pre-published key moves first.
      await writeFile(file, jwks(J2, J1));
      await waitFor('the poll to see the new order', async () => seen.length === 1, 5000, 10);
      assert.deepEqual(kids(ring.current()), [J2.kid, J1.kid]);

      const good = ring.current();
      await writeFile(file, '{"keys": [ {"kty": "RSA"');
      assert.equal(await ring.refresh(), good, 'a broken file keeps the previous set');
      await writeFile(file, jwks(J2, J2));
      assert.equal((await ring.refresh()).version, good.version, 'duplicate kids are refused too');
      await rm(file);
      assert.equal((await ring.refresh()).version, good.version, 'so is a missing file');
      assert.equal(seen.length, 1);

      await writeFile(file, jwks(J2));
      assert.deepEqual(kids(await ring.refresh()), [J2.kid], 'retirement: the old key is dropped');
      assert.equal(seen.length, 2);
    } finally {
      await ring.close();
    }
  });

  it('follows a Kubernetes Secret update (the ..data symlink swapped to a new directory)', async () => {
    const secret = join(tmp.dir, 'secret');
    await mkdir(join(secret, '..v1'), { recursive: true });
    await writeFile(join(secret, '..v1', 'keys.pem'), pemOf());
    await symlink('..v1', join(secret, '..data'));
    await symlink('..data/keys.pem', join(secret, 'keys.pem'));
    const ring = await createFileKeyRing({ file: join(secret, 'keys.pem'), logger: silent, pollMs: 25 });
    try {
      const first = ring.current();
      assert.equal(first.signing.length, 2, 'two PEM blocks, two keys');
      await mkdir(join(secret, '..v2'));
      await writeFile(join(secret, '..v2', 'keys.pem'), jwks(J3));
      await symlink('..v2', join(secret, '..data_tmp'));
      await rename(join(secret, '..data_tmp'), join(secret, '..data'));
      await waitFor('the swapped Secret', async () => ring.current().signing[0]?.kid === J3.kid, 5000, 10);
    } finally {
      await ring.close();
    }
  });

  it('createKeyRing rejects an unusable key file, and generated keys in production', async () => {
    const file = join(tmp.dir, 'bad.pem');
    // A PEM-shaped file that holds no key (assembled, so no key-scanner mistakes it for one).
    const label = ['PRIVATE', 'KEY'].join(' ');
    await writeFile(file, `-----BEGIN ${label}-----\nnot a key\n-----END ${label}-----\n`);
    const base = { store: {}, dataDir: join(tmp.dir, 'data'), tokens: { idTokenSeconds: 900 } };
    const keys = keysSchema.parse({ signingKeyFile: file });
    const deps = { keyPrefix: 'x:', logger: silent, production: false };
    await assert.rejects(createKeyRing({ ...base, keys }, deps), /bad\.pem/);
    await assert.rejects(createKeyRing({ ...base, keys: keysSchema.parse({ signingKeyFile: join(tmp.dir, 'missing') }) }, deps), /ENOENT/);
    await assert.rejects(createKeyRing({ ...base, keys: keysSchema.parse({}) }, { ...deps, production: true }), /production/);
    await assert.rejects(createKeyRing({ ...base, keys: keysSchema.parse({ source: 'redis' }) }, deps), /Redis/);
  });

  it('generated source: one RSA key in dataDir (0600), the same on the next start', async () => {
    const base = { store: {}, dataDir: join(tmp.dir, 'dev'), tokens: { idTokenSeconds: 900 }, keys: keysSchema.parse({}) };
    const deps = { keyPrefix: 'x:', logger: silent, production: false };
    const a = await createKeyRing(base, deps);
    const b = await createKeyRing(base, deps);
    assert.equal(a.current().signing[0]?.alg, 'RS256');
    assert.equal(a.current().version, b.current().version);
    const mode = (await stat(join(base.dataDir, 'signing-keys.json'))).mode & 0o777;
    assert.equal(mode, 0o600);
    assert.match(await readFile(join(base.dataDir, 'signing-keys.json'), 'utf8'), /"kid"/);
  });
});

/** Two PKCS#8 PEM blocks in one file, as an operator might concatenate them. */
function pemOf(): string {
  const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return `${pem()}${pem()}`;
}
