import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logging/logger.js';
import { createRedactor } from '../../src/logging/redact.js';

/** A logger writing into memory, and the parsed lines it wrote. */
function memoryLogger() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  const logger = createLogger({ level: 'info', destination: stream });
  const lines = async () => {
    await new Promise((r) => setImmediate(r));
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  return { logger, lines, raw: () => text };
}

describe('log redaction', () => {
  it('replaces secret fields in what the process logger writes, at the top and one level down', async () => {
    const { logger, lines, raw } = memoryLogger();
    logger.info({ password: 'hunter2', token: 'tok-1', code: 'auth-code-1', user: 'alice' }, 'top');
    logger.info({ body: { password: 'hunter3', refresh_token: 'rt-1', client_secret: 's3', scope: 'openid' } }, 'nested');
    logger.info({ headers: { authorization: 'Bearer abc', cookie: 'sid=1', accept: 'text/html' } }, 'headers');
    logger.info({ req: { headers: { authorization: 'Basic eHl6', cookie: 'sid=2', host: 'idp' } } }, 'request');
    const [top, nested, headers, request] = await lines();
    assert.deepEqual([top!.password, top!.token, top!.code, top!.user], ['[redacted]', '[redacted]', '[redacted]', 'alice']);
    assert.deepEqual(nested!.body, { password: '[redacted]', refresh_token: '[redacted]', client_secret: '[redacted]', scope: 'openid' });
    assert.deepEqual(headers!.headers, { authorization: '[redacted]', cookie: '[redacted]', accept: 'text/html' });
    assert.deepEqual(request!.req, { headers: { authorization: '[redacted]', cookie: '[redacted]', host: 'idp' } });
    for (const secret of ['hunter2', 'hunter3', 'tok-1', 'auth-code-1', 'rt-1', 's3', 'Bearer abc', 'eHl6', 'sid=1', 'sid=2']) {
      assert.equal(raw().includes(secret), false, `${secret} reached the log`);
    }
  });

  it("keeps an error's code and message, and redacts a secret the error carries", async () => {
    const { logger, lines, raw } = memoryLogger();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const leaky = Object.assign(new Error('bind failed'), { password: 'p@ss', code: 'LDAP_49' });
    logger.error({ err: refused }, 'redis down');
    logger.error({ err: leaky }, 'ldap');
    const [first, second] = (await lines()) as Array<{ err: Record<string, unknown> }>;
    assert.equal(first!.err.code, 'ECONNREFUSED');
    assert.equal(first!.err.message, 'connect ECONNREFUSED 127.0.0.1:6379');
    assert.equal(first!.err.type, 'Error');
    assert.match(String(first!.err.stack), /ECONNREFUSED/);
    assert.equal(second!.err.password, '[redacted]');
    assert.equal(second!.err.code, 'LDAP_49');
    assert.equal(second!.err.message, 'bind failed');
    assert.equal(raw().includes('p@ss'), false);
  });

  it("redacts a child logger's bindings too", async () => {
    const { logger, lines, raw } = memoryLogger();
    const child = logger.child({ token: 'bound-secret', component: 'x' });
    child.info('child');
    child.child({ password: 'grandchild-secret' }).info('grandchild');
    const [line, grand] = await lines();
    assert.equal(line!.token, '[redacted]');
    assert.equal(line!.component, 'x');
    assert.equal(grand!.password, '[redacted]');
    assert.equal(grand!.component, 'x');
    assert.equal(raw().includes('grandchild-secret'), false);
    assert.equal(raw().includes('bound-secret'), false);
  });

  it('never changes the object it is given, and passes one with nothing to hide through unchanged', () => {
    const redact = createRedactor(['password', '*.password', '*.headers.cookie', '*.*["set-cookie"]'], 'X');
    const clean = { user: 'alice', nested: { scope: 'openid' }, list: [1, 2] };
    assert.equal(redact(clean), clean);
    const dirty = { password: 'a', nested: { password: 'b', keep: 1 }, r: { headers: { cookie: 'c' } }, deep: { a: { 'set-cookie': 'd' } } };
    const before = structuredClone(dirty);
    const out = redact(dirty);
    assert.deepEqual(dirty, before);
    assert.deepEqual(out, { password: 'X', nested: { password: 'X', keep: 1 }, r: { headers: { cookie: 'X' } }, deep: { a: { 'set-cookie': 'X' } } });
    // `*` is one level: an array's elements are one level further down.
    assert.deepEqual(redact({ items: [{ password: 'a' }] }), { items: [{ password: 'a' }] });
    const deeper = createRedactor(['*.*.password'], 'X');
    assert.deepEqual(deeper({ items: [{ password: 'a' }, { ok: 1 }] }), { items: [{ password: 'X' }, { ok: 1 }] });
  });

  it('survives a cycle and leaves non-objects alone', () => {
    const redact = createRedactor(['*.*.password'], 'X');
    const a: Record<string, unknown> = { password: 'top-level is not a path here' };
    a.self = a;
    const out = redact({ a }) as { a: Record<string, unknown> };
    assert.equal(out.a.password, 'top-level is not a path here');
    assert.equal(redact('text'), 'text');
    assert.equal(redact(null), null);
  });

  it('refuses paths it cannot honour', () => {
    assert.throws(() => createRedactor(['a.*'], 'X'), /may not end in \*/);
    assert.throws(() => createRedactor(['a..b'], 'X'), /not supported/);
    assert.throws(() => createRedactor([''], 'X'), /not supported/);
  });
});
