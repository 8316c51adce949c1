import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { contextStorageGate, providerContextStorage } from '../../src/oidc/context-storage.js';

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * What a continuation begun inside `storage` and resumed after the gate's last request reads. Its
 * run() switches the storage on again, as oidc-provider's next request does; one more request
 * through the gate ends it.
 */
async function readAfterLastRequest(storage: AsyncLocalStorage<string>, gate: ReturnType<typeof contextStorageGate>): Promise<string | undefined> {
  const late = deferred();
  const leftover = storage.run('late', async () => {
    await late.promise;
    return storage.getStore();
  });
  await gate.around(async () => {});
  late.resolve();
  return leftover;
}

describe('oidc-provider context storage gate', () => {
  it("finds oidc-provider's context storage (a dependency bump that moves it fails here, not silently)", async () => {
    assert.ok((await providerContextStorage()) instanceof AsyncLocalStorage);
  });

  it('keeps the storage on while any request is inside, and switches it off after the last', async () => {
    const storage = new AsyncLocalStorage<string>();
    const gate = contextStorageGate(storage);
    const first = deferred();
    const second = deferred();
    // What each request reads from the storage after waiting, as oidc-provider's code does after its awaits.
    const a = gate.around(() => storage.run('a', async () => {
      await first.promise;
      return storage.getStore();
    }));
    const b = gate.around(() => storage.run('b', async () => {
      await second.promise;
      return storage.getStore();
    }));
    first.resolve();
    assert.equal(await a, 'a');
    // The second request is still inside: its context must survive the first one's end.
    second.resolve();
    assert.equal(await b, 'b');

    // Both ended: a continuation begun inside a request and resumed now reads nothing any more.
    assert.equal(await readAfterLastRequest(storage, gate), undefined);
  });

  it('counts a request that throws at once, and passes on what it threw or rejected with', async () => {
    const storage = new AsyncLocalStorage<string>();
    const gate = contextStorageGate(storage);
    assert.throws(() => gate.around(() => {
      throw new Error('sync');
    }), /sync/);
    await assert.rejects(gate.around(() => Promise.reject(new Error('async'))), /async/);
    // Nothing is left counted: one more request switches the storage off at its end.
    assert.equal(await readAfterLastRequest(storage, gate), undefined);
  });

  it('only runs the request when there is no storage to gate', async () => {
    assert.equal(await contextStorageGate(undefined).around(async () => 42), 42);
  });
});
