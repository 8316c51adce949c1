import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createAuditLog } from '../../src/observability/audit.js';
import { tempDir } from '../harness/tmp.js';

const PASSWORD = 'correct horse battery staple';
// A syntactically real JWT (header {"alg":"RS256","kid":"k1"}, a payload, a fake signature).
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImlzcyI6Imh0dHBzOi8vaWRwLmV4YW1wbGUifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA';

/** An audit log over a memory stream and the parsed lines written so far. */
function memoryAudit(now = () => new Date('2030-01-02T03:04:05.000Z')) {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const audit = createAuditLog({ destination: stream, now });
  return {
    audit,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('audit log', () => {
  it('writes one line per event with audit, event and time', () => {
    const m = memoryAudit();
    m.audit.event('login.success', { user: 'alice', client: 'kubernetes', ip: '192.0.2.7', backend: 'pam' });
    m.audit.event('refresh.denied', { user: 'bob', reason: 'PAM_ACCT_EXPIRED' });
    const [a, b] = m.lines();
    assert.ok(a && b);
    assert.equal(a.audit, true);
    assert.equal(a.event, 'login.success');
    assert.equal(a.time, '2030-01-02T03:04:05.000Z');
    assert.equal(a.user, 'alice');
    assert.equal(a.client, 'kubernetes');
    assert.equal(a.ip, '192.0.2.7');
    assert.equal(a.backend, 'pam');
    assert.equal(b.event, 'refresh.denied');
    assert.equal(b.reason, 'PAM_ACCT_EXPIRED');
  });

  it('never writes a password or a JWT, at any depth', () => {
    const m = memoryAudit();
    m.audit.event('login.failure', {
      user: 'alice',
      password: PASSWORD,
      Password: PASSWORD,
      request: { body: { form: { password: PASSWORD, code: 'auth-code-123' } }, headers: { Authorization: `Bearer ${JWT}`, cookie: 'sid=abc' } },
      tokens: [{ id_token: JWT }, { refresh_token: 'opaque-refresh' }, { access_token: 'opaque-access' }],
      client_secret: 'client-secret-value',
      note: `the apiserver sent ${JWT} for review`,
      bareJwt: JWT,
      list: [[[[[JWT]]]]],
      err: new Error(`verify failed for ${JWT}`),
    });
    const text = m.text();
    assert.ok(!text.includes(PASSWORD), 'no password');
    assert.ok(!text.includes(JWT), 'no whole JWT');
    assert.ok(!text.includes(JWT.split('.')[2]!), 'no JWT signature');
    for (const secret of ['auth-code-123', 'sid=abc', 'opaque-refresh', 'opaque-access', 'client-secret-value']) {
      assert.ok(!text.includes(secret), `no ${secret}`);
    }
    const [line] = m.lines();
    assert.ok(line);
    assert.equal(line.user, 'alice', 'the rest of the event is kept');
    assert.match(String(line.note), /^the apiserver sent \[jwt sha256:[A-Za-z0-9_-]{12}\] for review$/);
    assert.equal(line.bareJwt, String(line.note).match(/\[jwt sha256:[^\]]+\]/)![0], 'the same JWT always has the same fingerprint');
  });

  it('keeps its own keys when fields reuse their names, and survives cycles', () => {
    const m = memoryAudit();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    m.audit.event('config.reloaded', { event: 'spoofed', time: 'yesterday', audit: false, loop });
    const [line] = m.lines();
    assert.ok(line);
    assert.equal(line.event, 'config.reloaded');
    assert.equal(line.time, '2030-01-02T03:04:05.000Z');
    assert.equal(line.audit, true);
    assert.equal(line.event_, 'spoofed');
    assert.deepEqual(line.loop, { name: 'loop', self: '[circular]' });
  });

  it('appends to a file, creating its directory, and closes it', async () => {
    const tmp = await tempDir('audit');
    try {
      const file = join(tmp.dir, 'nested', 'audit.log');
      const first = createAuditLog({ file });
      first.event('key.rotated', { kid: 'k2', previous: 'k1' });
      await first.close();
      const second = createAuditLog({ file });
      second.event('user.revoked', { user: 'bob', by: 'admin', token: JWT });
      await second.close();
      second.event('logout', { user: 'late' }); // after close: dropped, not thrown
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => l.event),
        ['key.rotated', 'user.revoked'],
      );
      assert.equal(lines[1]!.token, '[redacted]');
    } finally {
      await tmp.remove();
    }
  });
});
