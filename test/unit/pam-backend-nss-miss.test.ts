// After PAM accepts a password, the PAM backend needs the account from NSS. A directory that misses
// once (a cache catching up, nss_wrapper racing threads) is asked again; one that keeps missing
// refuses the login as access_denied. Fakes for PAM and NSS: this is the backend's own logic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createPamBackend } from '../../src/backends/pam/pam-backend.js';
import { createGroupFilter } from '../../src/directory/group-filter.js';
import type { Directory, UnixUser } from '../../src/directory/types.js';
import type { NativePool } from '../../src/native/native-pool.js';

const alice: UnixUser = { name: 'alice', uid: 1001, gid: 1001, gecos: 'Alice', home: '/home/alice', shell: '/bin/sh' };

/** PAM that accepts every password. */
const yesPool: NativePool = {
  run: async <T>() => ({ step: 'acct_mgmt', code: 0, codeName: 'PAM_SUCCESS', text: 'Success', messages: [] }) as T,
  stats: () => ({ running: 0, queued: 0, threads: 0, maxThreads: 1 }),
  close: async () => {},
};

/** A directory that misses `misses` times, then knows alice. */
function flakyDirectory(misses: number): Directory & { asked: number } {
  const dir = {
    asked: 0,
    async user(name: string) {
      dir.asked++;
      return dir.asked <= misses || name !== 'alice' ? undefined : alice;
    },
    async groups() {
      return ['alice', 'developers'];
    },
    async close() {},
  };
  return dir;
}

function backendWith(directory: Directory) {
  return createPamBackend({
    pam: { service: 'unixid', maxConcurrent: 1, maxQueue: 1, timeoutMs: 1000 },
    directory,
    groupFilter: createGroupFilter({ include: [], exclude: [], prefix: '' }),
    logger: pino({ level: 'silent' }),
    pool: yesPool,
  });
}

describe('PAM backend: NSS after PAM said yes', () => {
  it('a directory that misses once is asked again, and the login goes through', async () => {
    const dir = flakyDirectory(1);
    const result = await backendWith(dir).login('alice', Buffer.from('secret'), { remoteAddress: '127.0.0.1' });
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.identity.username, 'alice');
    assert.equal(dir.asked, 2);
  });

  it('a directory that keeps missing refuses the login as access_denied, after asking twice', async () => {
    const dir = flakyDirectory(99);
    const result = await backendWith(dir).login('alice', Buffer.from('secret'), { remoteAddress: '127.0.0.1' });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'access_denied');
    assert.equal(dir.asked, 2);
  });
});
