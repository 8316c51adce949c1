// `--set` flags are dotted paths written into the config tree before validation. A path through
// __proto__ (or constructor.prototype) must be refused as an unknown key, not followed into
// Object.prototype: that would change every object in the process and make zod itself throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('loadConfig and prototype paths', () => {
  for (const path of ['__proto__.polluted', 'constructor.prototype.polluted', 'server.__proto__.polluted', 'prototype.polluted', '__proto__']) {
    it(`--set ${path}=yes is a ConfigError naming the path, and Object.prototype stays clean`, async () => {
      try {
        await assert.rejects(loadConfig({ env: {}, flags: { [path]: 'yes' } }), (err: unknown) => {
          assert.ok(err instanceof ConfigError, `a ConfigError, not ${(err as Error)?.name}`);
          assert.ok(err.problems.some((p) => p.path === path && /unknown key/.test(p.message)), JSON.stringify(err.problems));
          return true;
        });
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
      } finally {
        // Keep one failure from spoiling every later test in the process.
        delete (Object.prototype as Record<string, unknown>).polluted;
      }
    });
  }

  it('ordinary flags still apply', async () => {
    const config = await loadConfig({ env: {}, flags: { 'server.port': 9999, 'throttle.username.maxFailures': 3 } });
    assert.equal(config.server.port, 9999);
    assert.equal(config.throttle.username.maxFailures, 3);
  });
});
