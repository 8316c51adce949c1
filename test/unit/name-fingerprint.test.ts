import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { createNameFingerprint } from '../../src/logging/name-fingerprint.js';

describe('login-name fingerprints', () => {
  it('are stable for one key, differ between names and between keys', () => {
    const a = createNameFingerprint('cookie-key-1');
    const b = createNameFingerprint('cookie-key-1');
    const other = createNameFingerprint('cookie-key-2');
    assert.equal(a('Hunter2-password!'), b('Hunter2-password!'), 'two replicas with the same key agree');
    assert.notEqual(a('alice'), a('Alice'));
    assert.notEqual(a('alice'), other('alice'));
    assert.match(a('alice'), /^[A-Za-z0-9_-]{16}$/);
  });

  it('do not contain the name or its plain hash, so a log reader cannot test guesses offline', () => {
    const fp = createNameFingerprint('k')('correct horse battery staple');
    assert.ok(!fp.includes('correct'));
    const plain = createHash('sha256').update('correct horse battery staple').digest('base64url');
    assert.ok(!plain.startsWith(fp));
  });

  it('without a key, still correlate within the process', () => {
    const f = createNameFingerprint();
    assert.equal(f('x'), f('x'));
    assert.notEqual(createNameFingerprint()('x'), f('x'));
  });
});
