import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { CredentialBackend } from '../../src/backends/types.js';
import { createMemoryLoginThrottle } from '../../src/store/login-throttle.js';
import { checkPassword, type Attempt } from '../../src/web/password-check.js';

const LIMIT = { maxFailures: 5, windowSeconds: 60, banSeconds: 60 };

/** A backend that knows one password, for every name. */
const backend: CredentialBackend = {
  type: 'fake',
  login: async (username, password) =>
    password.toString('utf8') === 'right'
      ? { ok: true, identity: { subject: `sub-${username}`, username, groups: [], backend: 'fake' } }
      : { ok: false, reason: 'wrong_password' },
  refresh: async () => ({ ok: false, reason: 'account_gone' }),
  health: async () => ({ ok: true }),
  close: async () => {},
};

const attempt = (username: string, password: string): Attempt => ({ username, password, ip: '192.0.2.1', clientId: 'c', via: 'form' });

describe('checkPassword and the login gate', () => {
  it('resets the failure count after a success only when the gate saw failures counted', async () => {
    const throttle = createMemoryLoginThrottle({ username: LIMIT, ip: LIMIT });
    let resets = 0;
    const gate = { ...throttle, succeeded: async (username: string, ip: string) => (resets++, throttle.succeeded(username, ip)) };
    const deps = { backend, logger: pino({ level: 'silent' }), gate };

    assert.equal((await checkPassword(deps, attempt('alice', 'right'))).ok, true);
    assert.equal(resets, 0, 'nothing counted: no reset sent');

    assert.equal((await checkPassword(deps, attempt('alice', 'wrong'))).ok, false);
    assert.equal((await throttle.status({ username: 'alice' })).failures, 1);
    assert.equal((await checkPassword(deps, attempt('alice', 'right'))).ok, true);
    assert.equal(resets, 1, 'a failure was counted: reset');
    assert.equal((await throttle.status({ username: 'alice' })).failures, 0);

    assert.equal((await checkPassword(deps, attempt('alice', 'right'))).ok, true);
    assert.equal(resets, 1, 'counted nothing again');
  });
});
