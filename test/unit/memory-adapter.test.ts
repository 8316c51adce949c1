import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { createMemoryAdapterClass } from '../../src/store/memory-adapter.js';

const p = (fields: Record<string, unknown>): AdapterPayload => fields as AdapterPayload;

describe('memory adapter', () => {
  it('never evicts a live entry, however many there are (unlike oidc-provider’s LRU of 1000)', async () => {
    const Adapter = createMemoryAdapterClass();
    const a = new Adapter('Session');
    for (let i = 0; i < 5000; i++) await a.upsert(`s${i}`, p({ uid: `u${i}` }), 60);
    assert.ok(await a.find('s0'));
    assert.ok(await a.findByUid('u0'));
    assert.ok(await a.find('s4999'));
  });

  it('a write sweeps out expired entries that are never read again', async () => {
    let clock = 0;
    const Adapter = createMemoryAdapterClass({ now: () => clock, sweepIntervalMs: 1000 });
    const a = new Adapter('AccessToken');
    for (let i = 0; i < 100; i++) await a.upsert(`t${i}`, p({ grantId: 'g' }), 1);
    assert.equal(Adapter.dump().length, 101); // 100 tokens + the grant's member set
    clock += 5000;
    await a.upsert('fresh', p({}), 60);
    assert.deepEqual(
      Adapter.dump().map((k) => k.key),
      ['AccessToken:fresh'],
    );
  });

  it('classes do not share storage; instances of one class do', async () => {
    const A = createMemoryAdapterClass();
    const B = createMemoryAdapterClass();
    await new A('Grant').upsert('g', p({ accountId: 'alice' }), 60);
    assert.ok(await new A('Grant').find('g'));
    assert.equal(await new B('Grant').find('g'), undefined);
  });

  it('find returns a copy: mutating it does not change the store', async () => {
    const Adapter = createMemoryAdapterClass();
    const a = new Adapter('Session');
    await a.upsert('s', p({ accountId: 'alice', authorizations: {} }), 60);
    const found = await a.find('s');
    assert.ok(found);
    found.accountId = 'mallory';
    assert.equal((await a.find('s'))?.accountId, 'alice');
  });
});
