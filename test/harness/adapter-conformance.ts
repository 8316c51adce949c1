import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Adapter, AdapterPayload } from 'oidc-provider';

/** One store under test, as the shared suite sees it. */
export interface ConformanceTarget {
  Adapter: new (name: string) => Adapter;
  /** Let `ms` pass: the injected clock for memory, real time for Redis. */
  advance(ms: number): Promise<void>;
  /** The clock the adapter stamps `consumed` with, epoch milliseconds. */
  now(): number;
  /** Every key the store holds and its remaining milliseconds (negative: no TTL). */
  keys(): Promise<Array<{ key: string; ttlMs: number }>>;
  /** What every key must start with ('' for memory). */
  prefix: string;
  close?(): Promise<void>;
}

const MODELS = [
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'Grant',
  'Interaction',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'BackchannelAuthenticationRequest',
  'Account',
];

// Long enough to outlast a slow test run, short enough to clean up after itself.
const HOUR = 3600;
// Expiry tests wait this long past a 1 s TTL (real time against Redis).
const PAST_ONE_SECOND = 1200;

const id = (): string => randomUUID();
const p = (fields: Record<string, unknown>): AdapterPayload => fields as AdapterPayload;

/**
 * The adapter contract every unixid store must keep (dex's storage/conformance idea): one suite,
 * run against the memory adapter and against Redis. `makeTarget` runs once before the tests.
 */
export function adapterConformance(name: string, makeTarget: () => Promise<ConformanceTarget>): void {
  describe(`${name}: adapter conformance`, () => {
    let t: ConformanceTarget;
    const keyOf = (model: string, rid: string) => `${t.prefix}${model}:${rid}`;
    const keyNamed = async (key: string) => (await t.keys()).find((k) => k.key === key);

    before(async () => {
      t = await makeTarget();
    });
    after(async () => {
      await t?.close?.();
    });

    it('upsert then find returns the payload for every model, JSON round trip', async () => {
      const payload = {
        accountId: 'alice',
        scope: 'openid groups',
        nested: { groups: ['wheel', 'dev'], none: [], empty: {} },
        n: 42,
        f: 1.5,
        yes: true,
        nothing: null,
        text: 'grüße ✓',
      };
      for (const model of MODELS) {
        const rid = id();
        await new t.Adapter(model).upsert(rid, p({ ...payload, kind: model }), HOUR);
        assert.deepEqual(await new t.Adapter(model).find(rid), { ...payload, kind: model }, model);
      }
    });

    it('find, findByUid and findByUserCode of unknown values resolve undefined', async () => {
      for (const model of MODELS) {
        const a = new t.Adapter(model);
        assert.equal(await a.find(id()), undefined, model);
        assert.equal(await a.findByUid(id()), undefined, model);
        assert.equal(await a.findByUserCode(id()), undefined, model);
      }
    });

    it('instances of one model share storage; models do not share ids', async () => {
      const rid = id();
      await new t.Adapter('AccessToken').upsert(rid, p({ kind: 'AccessToken' }), HOUR);
      await new t.Adapter('RefreshToken').upsert(rid, p({ kind: 'RefreshToken' }), HOUR);
      assert.equal((await new t.Adapter('AccessToken').find(rid))?.kind, 'AccessToken');
      assert.equal((await new t.Adapter('RefreshToken').find(rid))?.kind, 'RefreshToken');
      assert.equal(await new t.Adapter('AuthorizationCode').find(rid), undefined);
    });

    it('upsert replaces the whole record, including a previous consumed mark', async () => {
      const a = new t.Adapter('RefreshToken');
      const rid = id();
      await a.upsert(rid, p({ a: 1, b: 2 }), HOUR);
      await a.consume(rid);
      await a.upsert(rid, p({ b: 3 }), HOUR);
      assert.deepEqual(await a.find(rid), { b: 3 });
    });

    it('a record expires after expiresIn seconds', async () => {
      const a = new t.Adapter('AccessToken');
      const rid = id();
      await a.upsert(rid, p({ jti: rid }), 1);
      assert.ok(await a.find(rid));
      const entry = await keyNamed(keyOf('AccessToken', rid));
      assert.ok(entry && entry.ttlMs > 0 && entry.ttlMs <= 1000, `ttl ${entry?.ttlMs}`);
      await t.advance(PAST_ONE_SECOND);
      assert.equal(await a.find(rid), undefined);
      assert.equal(await keyNamed(keyOf('AccessToken', rid)), undefined);
    });

    it('upsert with expiresIn <= 0 stores nothing (and removes an older version)', async () => {
      const a = new t.Adapter('AccessToken');
      const rid = id();
      await a.upsert(rid, p({ v: 1 }), HOUR);
      await a.upsert(rid, p({ v: 2 }), 0);
      assert.equal(await a.find(rid), undefined);
      await a.upsert(rid, p({ v: 3 }), -5);
      assert.equal(await a.find(rid), undefined);
      assert.equal(await keyNamed(keyOf('AccessToken', rid)), undefined);
    });

    it('upsert without expiresIn rejects and stores nothing: no key lives without a TTL', async () => {
      const a = new t.Adapter('Client');
      const rid = id();
      await assert.rejects(a.upsert(rid, p({ client_id: rid })), TypeError);
      await assert.rejects(a.upsert(rid, p({ client_id: rid }), Number.NaN), TypeError);
      assert.equal(await a.find(rid), undefined);
    });

    it('consume sets consumed (epoch seconds) and keeps the TTL', async () => {
      for (const model of ['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest']) {
        const a = new t.Adapter(model);
        const rid = id();
        await a.upsert(rid, p({ jti: rid, grantId: id() }), HOUR);
        await a.consume(rid);
        const found = await a.find(rid);
        assert.equal(typeof found?.consumed, 'number', model);
        assert.ok(Math.abs((found?.consumed as number) - t.now() / 1000) <= 2, `${model} consumed=${String(found?.consumed)}`);
        assert.equal(found?.jti, rid);
        const entry = await keyNamed(keyOf(model, rid));
        assert.ok(entry && entry.ttlMs > (HOUR - 60) * 1000 && entry.ttlMs <= HOUR * 1000, `${model} ttl ${entry?.ttlMs}`);
      }
    });

    it('a consumed record still expires on time', async () => {
      const a = new t.Adapter('AuthorizationCode');
      const rid = id();
      await a.upsert(rid, p({ jti: rid }), 1);
      await a.consume(rid);
      assert.ok((await a.find(rid))?.consumed);
      await t.advance(PAST_ONE_SECOND);
      assert.equal(await a.find(rid), undefined);
      assert.equal(await keyNamed(keyOf('AuthorizationCode', rid)), undefined);
    });

    it('consume of a missing or expired id creates nothing', async () => {
      const a = new t.Adapter('RefreshToken');
      const missing = id();
      await a.consume(missing);
      assert.equal(await a.find(missing), undefined);
      assert.equal(await keyNamed(keyOf('RefreshToken', missing)), undefined);

      const expired = id();
      await a.upsert(expired, p({ jti: expired }), 1);
      await t.advance(PAST_ONE_SECOND);
      await a.consume(expired);
      assert.equal(await a.find(expired), undefined);
      assert.equal(await keyNamed(keyOf('RefreshToken', expired)), undefined);
    });

    it('findByUid finds a session by its current uid only', async () => {
      const s = new t.Adapter('Session');
      const sid = id();
      const [uid1, uid2] = [id(), id()];
      await s.upsert(sid, p({ uid: uid1, accountId: 'alice' }), HOUR);
      assert.deepEqual(await s.findByUid(uid1), { uid: uid1, accountId: 'alice' });
      await s.upsert(sid, p({ uid: uid2, accountId: 'alice' }), HOUR);
      assert.equal(await s.findByUid(uid1), undefined, 'old uid must not answer');
      assert.equal((await s.findByUid(uid2))?.uid, uid2);
      await s.destroy(sid);
      assert.equal(await s.findByUid(uid2), undefined);
      assert.equal(await keyNamed(`${t.prefix}uid:${uid2}`), undefined, 'destroy removes the index entry');
    });

    it('only sessions are indexed by uid', async () => {
      const uid = id();
      await new t.Adapter('Interaction').upsert(id(), p({ uid }), HOUR);
      await new t.Adapter('Account').upsert(id(), p({ uid }), HOUR);
      assert.equal(await new t.Adapter('Session').findByUid(uid), undefined);
      assert.equal(await new t.Adapter('Interaction').findByUid(uid), undefined);
      assert.equal(await keyNamed(`${t.prefix}uid:${uid}`), undefined);
    });

    it('findByUserCode finds a device code until it is destroyed or expires', async () => {
      const d = new t.Adapter('DeviceCode');
      const [rid, code] = [id(), 'ABCD-EFGH'];
      await d.upsert(rid, p({ userCode: code, params: { scope: 'openid' } }), HOUR);
      assert.deepEqual(await d.findByUserCode(code), { userCode: code, params: { scope: 'openid' } });
      await d.destroy(rid);
      assert.equal(await d.findByUserCode(code), undefined);

      const [rid2, code2] = [id(), 'WXYZ-1234'];
      await d.upsert(rid2, p({ userCode: code2 }), 1);
      assert.ok(await d.findByUserCode(code2));
      await t.advance(PAST_ONE_SECOND);
      assert.equal(await d.findByUserCode(code2), undefined);
      assert.equal(await keyNamed(`${t.prefix}userCode:${code2}`), undefined);
    });

    it('only device codes are indexed by userCode', async () => {
      const code = `UC-${id()}`;
      for (const model of MODELS.filter((m) => m !== 'DeviceCode')) await new t.Adapter(model).upsert(id(), p({ userCode: code }), HOUR);
      assert.equal(await new t.Adapter('DeviceCode').findByUserCode(code), undefined);
      assert.equal(await keyNamed(`${t.prefix}userCode:${code}`), undefined);
    });

    it('destroying a record of a model without index entries leaves nothing of it behind', async () => {
      for (const model of ['Interaction', 'Grant', 'Account', 'ReplayDetection', 'PushedAuthorizationRequest']) {
        const [rid, uid, userCode, g] = [id(), id(), `UC-${id()}`, id()];
        const a = new t.Adapter(model);
        // Fields that index a record of another model (uid, userCode, grantId) index nothing here.
        await a.upsert(rid, p({ uid, userCode, grantId: g, accountId: 'alice' }), HOUR);
        const mention = async () => (await t.keys()).filter(({ key }) => [rid, uid, userCode, g].some((v) => key.includes(v))).map(({ key }) => key);
        assert.deepEqual(await mention(), [keyOf(model, rid)], `${model}: only the record is written`);
        await a.destroy(rid);
        assert.equal(await a.find(rid), undefined, model);
        assert.deepEqual(await mention(), [], `${model}: nothing left after destroy`);
      }
    });

    it('destroy removes a record; destroying an unknown id resolves', async () => {
      const a = new t.Adapter('Grant');
      const rid = id();
      await a.upsert(rid, p({ accountId: 'alice' }), HOUR);
      await a.destroy(rid);
      assert.equal(await a.find(rid), undefined);
      assert.equal(await keyNamed(keyOf('Grant', rid)), undefined);
      await a.destroy(id());
    });

    it('revokeByGrantId removes every member across models and leaves other grants alone', async () => {
      const [g1, g2] = [id(), id()];
      const members1 = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest'].map((model) => ({ model, rid: id() }));
      const members2 = ['AccessToken', 'RefreshToken'].map((model) => ({ model, rid: id() }));
      const userCode = `UC-${id()}`;
      for (const { model, rid } of members1) {
        await new t.Adapter(model).upsert(rid, p({ grantId: g1, ...(model === 'DeviceCode' ? { userCode } : {}) }), HOUR);
      }
      for (const { model, rid } of members2) await new t.Adapter(model).upsert(rid, p({ grantId: g2 }), HOUR);
      await new t.Adapter('Grant').upsert(g1, p({ accountId: 'alice' }), HOUR);

      await new t.Adapter('AccessToken').revokeByGrantId(g1);

      for (const { model, rid } of members1) assert.equal(await new t.Adapter(model).find(rid), undefined, model);
      assert.equal(await new t.Adapter('DeviceCode').findByUserCode(userCode), undefined);
      for (const { model, rid } of members2) assert.ok(await new t.Adapter(model).find(rid), model);
      assert.equal(await keyNamed(`${t.prefix}grant:${g1}`), undefined);
      assert.ok(await keyNamed(`${t.prefix}grant:${g2}`));
      // The Grant record itself is oidc-provider's to destroy (revokeGrantPolicy).
      assert.ok(await new t.Adapter('Grant').find(g1));
      // oidc-provider calls it once per model; repeats and unknown grants are no-ops.
      await new t.Adapter('RefreshToken').revokeByGrantId(g1);
      await new t.Adapter('RefreshToken').revokeByGrantId(id());
    });

    it("a grant's member set lives as long as its longest member", async () => {
      const g = id();
      const [shortA, longR, shortB] = [id(), id(), id()];
      await new t.Adapter('AccessToken').upsert(shortA, p({ grantId: g }), 1);
      await new t.Adapter('RefreshToken').upsert(longR, p({ grantId: g }), HOUR);
      await new t.Adapter('AccessToken').upsert(shortB, p({ grantId: g }), 1);
      const entry = await keyNamed(`${t.prefix}grant:${g}`);
      assert.ok(entry && entry.ttlMs > (HOUR - 60) * 1000, `grant ttl ${entry?.ttlMs}`);
      await t.advance(PAST_ONE_SECOND);
      assert.ok(await new t.Adapter('RefreshToken').find(longR));
      await new t.Adapter('AccessToken').revokeByGrantId(g);
      assert.equal(await new t.Adapter('RefreshToken').find(longR), undefined);
    });

    it('destroying the last member of a grant removes its member set', async () => {
      const g = id();
      const rid = id();
      const a = new t.Adapter('AccessToken');
      await a.upsert(rid, p({ grantId: g }), HOUR);
      assert.ok(await keyNamed(`${t.prefix}grant:${g}`));
      await a.destroy(rid);
      assert.equal(await keyNamed(`${t.prefix}grant:${g}`), undefined);
    });

    it('every key written has a TTL and the key prefix', async () => {
      const [sid, uid, dc, userCode, g] = [id(), id(), id(), `UC-${id()}`, id()];
      await new t.Adapter('Session').upsert(sid, p({ uid }), HOUR);
      await new t.Adapter('DeviceCode').upsert(dc, p({ userCode, grantId: g }), HOUR);
      await new t.Adapter('RefreshToken').upsert(id(), p({ grantId: g }), HOUR);
      await new t.Adapter('RefreshToken').consume(id());
      for (const model of MODELS) await new t.Adapter(model).upsert(id(), p({ grantId: g }), HOUR);

      const keys = await t.keys();
      const names = new Set(keys.map((k) => k.key));
      for (const expected of [keyOf('Session', sid), `${t.prefix}uid:${uid}`, `${t.prefix}userCode:${userCode}`, `${t.prefix}grant:${g}`, keyOf('DeviceCode', dc)]) {
        assert.ok(names.has(expected), `missing ${expected}`);
      }
      for (const { key, ttlMs } of keys) {
        assert.ok(ttlMs > 0, `${key} has no TTL (${ttlMs})`);
        assert.ok(key.startsWith(t.prefix), `${key} lacks the prefix ${t.prefix}`);
      }
    });
  });
}
