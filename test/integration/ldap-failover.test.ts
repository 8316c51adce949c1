import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CredentialBackend } from '../../src/backends/types.js';
import { BackendUnavailableError } from '../../src/errors.js';
import { accountRefOf, type AccountRef } from '../../src/identity.js';
import { waitFor } from '../harness/ports.js';
import { slapdAvailable, startSlapd, type Slapd } from '../harness/slapd.js';
import { backendFactory, ldapConfig, PASSWORDS, pw } from './ldap-helpers.js';
import { captureLogs } from '../harness/capture-logs.js';

describe('LDAP failover between two slapd servers', { skip: !slapdAvailable() && 'slapd is not installed' }, () => {
  let first: Slapd;
  let second: Slapd;
  const logs = captureLogs();
  const backends = backendFactory(logs.logger);
  let backend: CredentialBackend;
  let aliceRef: AccountRef;

  /** Warnings about `url` failing, logged so far. */
  const failuresOf = (url: string) => logs.records().filter((r) => r.level === 40 && r.url === url).length;

  before(async () => {
    [first, second] = await Promise.all([startSlapd({ tls: false }), startSlapd({ tls: false })]);
    backend = backends.make(ldapConfig([first.url, second.url], { deadServerBackoffMs: 60_000 }));
  });

  after(async () => {
    await backends.closeAll();
    await Promise.all([first?.close(), second?.close()]);
  });

  it('uses the first server while it is up', async () => {
    const result = await backend.login('alice', pw('alice-password'), {});
    assert.ok(result.ok);
    aliceRef = accountRefOf(result.identity);
    assert.match((await backend.health()).detail ?? '', new RegExp(first.url.replace(/[.:/]/g, '\\$&')));
    assert.equal(failuresOf(first.url), 0);
  });

  it('keeps logging in through the second server when the first stops, and backs the first off', async () => {
    await first.stop();
    const login = await backend.login('alice', pw('alice-password'), {});
    assert.ok(login.ok, JSON.stringify(login));
    const failures = failuresOf(first.url);
    assert.ok(failures >= 1, 'the failure of the first server is logged');
    // Within the back-off the dead server is not tried again: no new failures, no delay.
    const started = performance.now();
    for (let i = 0; i < 3; i++) assert.ok((await backend.login('bob', pw('bob-password'), {})).ok);
    assert.equal(failuresOf(first.url), failures, 'the backed-off server was not tried again');
    assert.ok(performance.now() - started < 1000);
    assert.match((await backend.health()).detail ?? '', new RegExp(second.url.replace(/[.:/]/g, '\\$&')));
    // A refresh re-reads the same entry from the other server: the subject (entryUUID) matches.
    const refreshed = await backend.refresh(aliceRef, {});
    assert.ok(refreshed.ok, JSON.stringify(refreshed));
    assert.equal(refreshed.identity.subject, aliceRef.subject);
  });

  it('is unavailable, not a refusal, when every server is down', async () => {
    await second.stop();
    await assert.rejects(backend.login('alice', pw('alice-password'), {}), (err: unknown) => {
      assert.ok(err instanceof BackendUnavailableError);
      assert.ok(err.detail?.includes(first.url) && err.detail.includes(second.url), err.detail);
      assert.match(err.detail ?? '', /connect timeout 2000 ms, operation timeout 3000 ms/);
      return true;
    });
    // A refresh must not fall back to the groups it saw last time.
    await assert.rejects(backend.refresh(aliceRef, {}), BackendUnavailableError);
    assert.equal((await backend.health()).ok, false);
  });

  it('recovers as soon as a server is back, even inside the back-off', async () => {
    await first.start();
    const result = await backend.login('alice', pw('alice-password'), {});
    assert.ok(result.ok, JSON.stringify(result));
    assert.ok((await backend.refresh(aliceRef, {})).ok);
  });

  it('moves the service connection back to the first server once it is healthy again', async () => {
    await second.start();
    const quick = backends.make(ldapConfig([first.url, second.url], { deadServerBackoffMs: 200, healthCheckIntervalMs: 50 }));
    await first.stop();
    assert.ok((await quick.login('alice', pw('alice-password'), {})).ok);
    assert.match((await quick.health()).detail ?? '', new RegExp(second.url.replace(/[.:/]/g, '\\$&')));
    await first.start();
    await waitFor('the service connection to move back', async () => ((await quick.health()).detail ?? '').includes(first.url), 5000, 50);
    assert.ok((await quick.login('bob', pw('bob-password'), {})).ok);
  });

  it('re-binds the service connection after the server restarts', async () => {
    const single = backends.make(ldapConfig([second.url]));
    assert.ok((await single.login('alice', pw('alice-password'), {})).ok);
    await second.stop();
    await second.start();
    // The old connection died with the server; a fresh one is opened and bound again.
    assert.ok((await single.login('alice', pw('alice-password'), {})).ok);
    assert.equal((await single.health()).ok, true);
  });

  it('skips a server that accepts connections but never answers', async () => {
    // A TCP listener that never speaks LDAP (nor TLS): only the timeouts can get past it.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      for (const url of [`ldap://127.0.0.1:${port}`, `ldaps://127.0.0.1:${port}`]) {
        const backend = backends.make(ldapConfig([url, second.url], { connectTimeoutMs: 300, timeoutMs: 300 }));
        const started = performance.now();
        const result = await backend.login('alice', pw('alice-password'), {});
        assert.ok(result.ok, `${url}: ${JSON.stringify(result)}`);
        assert.ok(performance.now() - started < 2500, 'the silent server cost about one timeout, not more');
        assert.ok(failuresOf(url) >= 1, 'the silent server was logged as failed');
      }
      const alone = backends.make(ldapConfig([`ldap://127.0.0.1:${port}`], { startTLS: true, connectTimeoutMs: 300, timeoutMs: 300 }));
      await assert.rejects(alone.login('alice', pw('alice-password'), {}), (err: unknown) => {
        assert.ok(err instanceof BackendUnavailableError);
        assert.match(err.detail ?? '', /timed out|timeout/i);
        return true;
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('never writes a password into the log', () => {
    for (const line of logs.lines) {
      for (const secret of PASSWORDS) assert.ok(!line.includes(secret), `log line contains a password: ${line}`);
    }
  });
});
