// Logout revokes the session's grants only when oidc-provider accepted the confirmation: a refused
// POST to /session/end/confirm (a wrong or missing xsrf value, no logout details) must revoke nothing,
// or any page able to make the browser post there could kill the user's refresh tokens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Provider } from 'oidc-provider';
import { pino } from 'pino';
import { revokeGrantsOnLogout } from '../../src/oidc/logout-revocation.js';

type Middleware = (ctx: Record<string, unknown>, next: () => Promise<void>) => Promise<void>;

/** The middleware revokeGrantsOnLogout installs, and the grants it revoked and the logouts it reported. */
function install() {
  let middleware: Middleware | undefined;
  const provider = { use: (fn: Middleware) => (middleware = fn) } as unknown as Provider;
  const revoked: string[] = [];
  const logouts: unknown[] = [];
  revokeGrantsOnLogout(provider, async (g) => void revoked.push(g), pino({ level: 'silent' }), (...args) => logouts.push(args));
  return { middleware: middleware!, revoked, logouts };
}

function confirmContext(status: number) {
  return {
    method: 'POST',
    status,
    oidc: {
      route: 'end_session_confirm',
      params: { logout: 'yes', xsrf: 'whatever' },
      session: { accountId: 'sub-1', authorizations: { kubernetes: { grantId: 'grant-1' }, 'unixid-home': { grantId: 'grant-2' } } },
    },
  };
}

describe('revokeGrantsOnLogout', () => {
  it('revokes every grant of the session when the provider accepted the logout (303 onwards)', async () => {
    const { middleware, revoked, logouts } = install();
    await middleware(confirmContext(303), async () => {});
    assert.deepEqual(revoked.sort(), ['grant-1', 'grant-2']);
    assert.equal(logouts.length, 1);
  });

  for (const status of [400, 401, 403, 500]) {
    it(`revokes nothing and reports no logout when the provider answered ${status}`, async () => {
      const { middleware, revoked, logouts } = install();
      await middleware(confirmContext(status), async () => {});
      assert.deepEqual(revoked, []);
      assert.deepEqual(logouts, []);
    });
  }
});
