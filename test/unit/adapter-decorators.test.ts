import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { withRefreshReuseGrace } from '../../src/oidc/refresh-reuse-grace.js';
import { StoreUnavailableError, withStoreErrors } from '../../src/oidc/store-errors.js';
import { decorateAdapter } from '../../src/store/decorate-adapter.js';
import { createMemoryAdapterClass } from '../../src/store/memory-adapter.js';

describe('adapter decorators', () => {
  it('forward every method with its model name and arguments', async () => {
    const seen: string[] = [];
    const Adapter = decorateAdapter(createMemoryAdapterClass(), (method, model, call) => {
      seen.push(`${model}.${method}`);
      return call();
    });
    const grants = new Adapter('Grant');
    await grants.upsert('g1', { accountId: 'a' } as AdapterPayload, 60);
    assert.equal(((await grants.find('g1')) as { accountId: string }).accountId, 'a');
    await grants.destroy('g1');
    assert.equal(await grants.find('g1'), undefined);
    assert.deepEqual(seen, ['Grant.upsert', 'Grant.find', 'Grant.destroy', 'Grant.find']);
  });

  it('turn an inner method that throws at once into a rejection, never a throw at the caller', async () => {
    class Throwing {
      constructor(readonly model: string) {}
      find(): Promise<undefined> {
        throw new Error('thrown, not rejected');
      }
    }
    const Adapter = withStoreErrors(decorateAdapter(Throwing as never, (_method, _model, call) => call()));
    let result: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      result = new Adapter('Session').find('x');
    });
    await assert.rejects(result!, (err: unknown) => err instanceof StoreUnavailableError);
  });

  it('turn a store failure into a 503 StoreUnavailableError but pass programming errors on', async () => {
    const Failing = decorateAdapter(createMemoryAdapterClass(), (method, _model, call) =>
      method === 'find' ? Promise.reject(new Error('ECONNREFUSED')) : method === 'destroy' ? Promise.reject(new TypeError('bug')) : call(),
    );
    const Adapter = withStoreErrors(Failing);
    await assert.rejects(new Adapter('Session').find('x'), (err: unknown) => err instanceof StoreUnavailableError && (err as { status: number }).status === 503);
    await assert.rejects(new Adapter('Session').destroy('x'), TypeError);
  });

  it('accept a just-consumed refresh token again only within the grace window', async () => {
    let now = 1_000_000_000_000;
    const Base = createMemoryAdapterClass({ now: () => now });
    const Adapter = withRefreshReuseGrace(Base, 10, () => now);
    const rts = new Adapter('RefreshToken');
    await rts.upsert('rt', { accountId: 'a' } as AdapterPayload, 600);
    await rts.consume('rt');
    assert.equal(((await new Base('RefreshToken').find('rt')) as { consumed?: number }).consumed !== undefined, true, 'consumed in the store');
    assert.equal(((await rts.find('rt')) as { consumed?: number }).consumed, undefined, 'reusable within the grace');
    now += 11_000;
    assert.equal(typeof ((await rts.find('rt')) as { consumed?: number }).consumed, 'number', 'reuse after the grace is seen as reuse');
    await new Adapter('AuthorizationCode').upsert('c', { accountId: 'a' } as AdapterPayload, 60);
    await new Adapter('AuthorizationCode').consume('c');
    assert.equal(typeof ((await new Adapter('AuthorizationCode').find('c')) as { consumed?: number }).consumed, 'number', 'other models untouched');
  });
});
