// After PAM accepts a password (or a refresh re-checks an account that logged in), the account
// must come from NSS. A fresh lookup that misses once (a cache catching up, nss_wrapper racing
// threads) is asked again; one that keeps missing refuses the login as access_denied. The PAM
// backend and the NSS directory are unixid's own; PAM and the native NSS calls are fakes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createPamBackend } from '../../src/backends/pam/pam-backend.js';
import { createGroupFilter } from '../../src/directory/group-filter.js';
import { createNssDirectory } from '../../src/directory/nss-directory.js';
import type { UnixUser } from '../../src/directory/types.js';
import type { NativePool } from '../../src/native/native-pool.js';
import type { NativeRequest } from '../../src/native/native-calls.js';

const alice: UnixUser = { name: 'alice', uid: 1001, gid: 1001, gecos: 'Alice', home: '/home/alice', shell: '/bin/sh' };

/** PAM that accepts every password, and NSS that misses `misses` times before it knows alice. */
function fakeNative(misses: number): NativePool & { asked: number } {
  const pool = {
    asked: 0,
    async run<T>(req: NativeRequest): Promise<T> {
      if (req.op === 'pamLogin' || req.op === 'pamAccount') return { step: 'acct_mgmt', code: 0, codeName: 'PAM_SUCCESS', text: 'Success', messages: [] } as T;
      if (req.op === 'getGroups') return ['alice', 'developers'] as T;
      pool.asked++;
      return (pool.asked <= misses || req.name !== 'alice' ? null : alice) as T;
    },
    stats: () => ({ running: 0, queued: 0, threads: 0, maxThreads: 1 }),
    close: async () => {},
  };
  return pool;
}

function backendWith(native: NativePool) {
  return createPamBackend({
    pam: { service: 'unixid', maxConcurrent: 1, maxQueue: 1, timeoutMs: 1000 },
    directory: createNssDirectory({ pool: native, cacheTtlSeconds: 60 }),
    groupFilter: createGroupFilter({ include: [], exclude: [], prefix: '' }),
    logger: pino({ level: 'silent' }),
    pool: native,
  });
}

describe('NSS after PAM said yes', () => {
  it('a directory that misses once is asked again, and the login goes through', async () => {
    const native = fakeNative(1);
    const result = await backendWith(native).login('alice', Buffer.from('secret'), { remoteAddress: '127.0.0.1' });
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.identity.username, 'alice');
    assert.equal(native.asked, 2);
  });

  it('a directory that keeps missing refuses the login as access_denied, after asking twice', async () => {
    const native = fakeNative(99);
    const result = await backendWith(native).login('alice', Buffer.from('secret'), { remoteAddress: '127.0.0.1' });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'access_denied');
    assert.equal(native.asked, 2);
  });

  it('a refresh survives one miss too; an ordinary lookup of an unknown name asks once', async () => {
    const login = await backendWith(fakeNative(0)).login('alice', Buffer.from('secret'), { remoteAddress: '127.0.0.1' });
    assert.ok(login.ok);
    const native = fakeNative(1);
    const refreshed = await backendWith(native).refresh({ subject: login.identity.subject, username: 'alice', backend: 'pam', uid: 1001 }, { remoteAddress: '127.0.0.1' });
    assert.equal(refreshed.ok, true, JSON.stringify(refreshed));
    assert.equal(native.asked, 2);
    const other = fakeNative(99);
    assert.equal(await createNssDirectory({ pool: other, cacheTtlSeconds: 60 }).user('nobody'), undefined);
    assert.equal(other.asked, 1, 'a miss is asked again only on fresh lookups');
  });
});
