import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccountStore } from '../../src/oidc/account-store.js';
import { createMemoryAdapterClass } from '../../src/store/memory-adapter.js';

const DAY = 86_400;

describe('account store', () => {
  it('save remembers the account and its name, renewing both TTLs on every login', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const Adapter = createMemoryAdapterClass({ now: () => clock });
    const accounts = createAccountStore(Adapter);
    const ttlOf = (key: string) => Adapter.dump().find((k) => k.key === key)?.ttlMs;

    await accounts.save({ subject: 's1', username: 'alice', backend: 'pam', uid: 1000 }, DAY);
    assert.deepEqual(await accounts.find('s1'), { subject: 's1', username: 'alice', backend: 'pam', uid: 1000 });
    assert.deepEqual(await accounts.subjectsOf('alice'), ['s1']);

    clock += 3_600_000;
    assert.equal(ttlOf('Account:s1'), (DAY - 3600) * 1000);
    await accounts.save({ subject: 's1', username: 'alice', backend: 'pam', uid: 1000 }, DAY);
    assert.equal(ttlOf('Account:s1'), DAY * 1000, 'account renewed');
    assert.equal(ttlOf('AccountName:alice'), DAY * 1000, 'name renewed');
    assert.deepEqual(await accounts.subjectsOf('alice'), ['s1'], 'a subject is listed once');
  });

  it('a reused name keeps its 16 most recent subjects', async () => {
    const accounts = createAccountStore(createMemoryAdapterClass());
    for (let i = 1; i <= 18; i++) await accounts.save({ subject: `s${i}`, username: 'bob', backend: 'pam' }, DAY);
    const subjects = await accounts.subjectsOf('bob');
    assert.equal(subjects.length, 16);
    assert.deepEqual(subjects, Array.from({ length: 16 }, (_, i) => `s${i + 3}`));
    await accounts.save({ subject: 's10', username: 'bob', backend: 'pam' }, DAY);
    assert.deepEqual(await accounts.subjectsOf('bob'), subjects, 'a known subject does not move or repeat');
  });

  it('save fails when the store does', async () => {
    const Failing = class extends createMemoryAdapterClass() {
      override async find(): Promise<undefined> {
        throw new Error('store down');
      }
    };
    await assert.rejects(createAccountStore(Failing).save({ subject: 's', username: 'carol', backend: 'pam' }, DAY), /store down/);
  });
});
