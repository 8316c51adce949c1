// The pure pieces of the LDAP backend (no slapd needed): config validation, escaping, the
// password-policy control and the server back-off.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EqualityFilter, InvalidCredentialsError, UnwillingToPerformError } from 'ldapts';
import { createBindResponseTap, type ResponseControl } from '../../src/backends/ldap/bind-response-tap.js';
import { escapeDnValue, fillDnTemplate, sameDn } from '../../src/backends/ldap/dn.js';
import { fillFilter } from '../../src/backends/ldap/filter.js';
import { classifyBindFailure, parsePasswordPolicyValue, PASSWORD_POLICY_OID, passwordPolicyOf } from '../../src/backends/ldap/password-policy.js';
import { createServerList } from '../../src/backends/ldap/server-list.js';
import { configSchema } from '../../src/config/schema.js';
import { ldapSchema } from '../../src/config/sections/ldap.js';

function problems(input: unknown): string[] {
  const r = configSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('ldap config section', () => {
  it('parses an empty section to defaults (the default backend is PAM)', () => {
    const ldap = ldapSchema.parse({});
    assert.deepEqual(ldap.urls, []);
    assert.equal(ldap.tls.rejectUnauthorized, true);
    assert.equal(ldap.userSearch.filter, '(&(objectClass=posixAccount)(uid={username}))');
    assert.equal(ldap.userSearch.attributes.subject, 'entryUUID');
    assert.equal(ldap.groupSearch.maxDepth, 3);
    assert.deepEqual(problems({}), []);
  });

  it('refuses plain ldap:// unless StartTLS or allowInsecure is set', () => {
    const base = { backend: { type: 'ldap' }, ldap: { urls: ['ldaps://a', 'ldap://b:389'], userSearch: { baseDn: 'dc=x' } } };
    assert.deepEqual(problems(base), ['ldap.urls.1: plain ldap:// sends passwords in clear text: use ldaps://, set startTLS, or set allowInsecure']);
    assert.deepEqual(problems({ ...base, ldap: { ...base.ldap, startTLS: true } }), []);
    assert.deepEqual(problems({ ...base, ldap: { ...base.ldap, allowInsecure: true } }), []);
  });

  it('reports template and bind mistakes with their dotted paths, all at once', () => {
    const found = problems({
      ldap: {
        urls: ['ldaps://a', 'http://b'],
        bind: { dn: 'cn=svc', password: 'x', passwordFile: '/run/secret' },
        tls: { certFile: '/c.pem' },
        userSearch: { baseDn: 'dc=x', filter: '(uid={user})' },
        groupSearch: { filter: '(member={dn}' },
      },
    });
    assert.ok(found.some((p) => p.startsWith('ldap.urls.1:')));
    assert.ok(found.includes('ldap.userSearch.filter: unknown placeholder {user} (allowed: {username})'));
    assert.ok(found.includes('ldap.userSearch.filter: must contain {username}'));
    assert.ok(found.some((p) => p.startsWith('ldap.groupSearch.filter: not a valid LDAP filter')));
    assert.ok(found.includes('ldap.bind.passwordFile: set either bind.password or bind.passwordFile, not both'));
    assert.ok(found.includes('ldap.tls.keyFile: tls.certFile and tls.keyFile go together'));
  });

  it('needs a way to find users once URLs are set', () => {
    assert.deepEqual(problems({ ldap: { urls: ['ldaps://a'] } }), ['ldap.userSearch.baseDn: set userSearch.baseDn (or userDnTemplate for a direct bind)']);
    assert.deepEqual(problems({ ldap: { urls: ['ldaps://a'], userDnTemplate: 'uid={username},dc=x' } }), []);
  });
});

describe('escaping', () => {
  it('turns every filter metacharacter of a login name into a literal assertion value', () => {
    for (const name of ['*', ')(uid=*', 'admin)(|(uid=*', 'a\u0000b', 'back\\slash', '{dn}', 'é*']) {
      const filter = fillFilter('(&(objectClass=posixAccount)(uid={username}))', { username: name, dn: 'cn=x' }) as unknown as { filters: EqualityFilter[] };
      const uid = filter.filters[1]!;
      assert.ok(uid instanceof EqualityFilter);
      assert.equal(uid.attribute, 'uid');
      assert.equal(uid.value, name);
    }
  });

  it('escapes DN values per RFC 4514', () => {
    assert.equal(escapeDnValue('j,doe'), 'j\\,doe');
    assert.equal(escapeDnValue('a+b=c;d<e>f"g\\h'), 'a\\+b\\=c\\;d\\<e\\>f\\"g\\\\h');
    assert.equal(escapeDnValue('#x'), '\\#x');
    assert.equal(escapeDnValue(' x '), '\\ x\\ ');
    assert.equal(escapeDnValue('a\u0000'), 'a\\00');
    assert.equal(fillDnTemplate('uid={username},ou=people,dc=x', { username: 'x,ou=admins' }), 'uid=x\\,ou\\=admins,ou=people,dc=x');
  });

  it('compares DNs the way directories spell them', () => {
    assert.ok(sameDn('uid=j\\2Cdoe,ou=People, dc=example,dc=org', 'uid=j\\,doe,ou=people,dc=example,dc=org'));
    assert.ok(!sameDn('uid=alice,ou=people,dc=x', 'uid=alice,ou=former,dc=x'));
  });
});

describe('password policy control', () => {
  it('decodes errors and warnings', () => {
    assert.deepEqual(parsePasswordPolicyValue(Buffer.from('3003810101', 'hex')), { error: 'accountLocked' });
    assert.deepEqual(parsePasswordPolicyValue(Buffer.from('3003810100', 'hex')), { error: 'passwordExpired' });
    assert.deepEqual(parsePasswordPolicyValue(Buffer.from('3003810102', 'hex')), { error: 'changeAfterReset' });
    assert.deepEqual(parsePasswordPolicyValue(Buffer.from('3006a0048002012c', 'hex')), { timeBeforeExpiration: 300 });
    assert.deepEqual(parsePasswordPolicyValue(Buffer.from('3005a0038101' + '02', 'hex')), { graceAuthNsRemaining: 2 });
  });

  it('finds the controls of a BindResponse however the stream is cut', () => {
    const oid = Buffer.from(PASSWORD_POLICY_OID, 'latin1');
    const value = Buffer.from('3003810101', 'hex');
    const control = Buffer.concat([Buffer.from([0x30, 2 + oid.length + 2 + value.length, 0x04, oid.length]), oid, Buffer.from([0x04, value.length]), value]);
    const controls = Buffer.concat([Buffer.from([0xa0, control.length]), control]);
    const bindResponse = Buffer.from('61070a0131040004 00'.replace(/ /g, ''), 'hex');
    const body = Buffer.concat([Buffer.from('020102', 'hex'), bindResponse, controls]);
    const message = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    // A search entry before it, to be skipped by length.
    const other = Buffer.from('300c020101640704037569643000', 'hex');
    const seen: ResponseControl[][] = [];
    const tap = createBindResponseTap((c) => seen.push(c));
    for (const byte of Buffer.concat([other, message])) tap.push(Buffer.from([byte]));
    assert.equal(seen.length, 1);
    assert.deepEqual(passwordPolicyOf(seen[0]!), { error: 'accountLocked' });
  });

  it('maps bind results to login failure reasons', () => {
    const invalid = new InvalidCredentialsError('');
    assert.equal(pick(classifyBindFailure(invalid, undefined, 'wrong_password')), 'wrong_password');
    assert.equal(pick(classifyBindFailure(invalid, undefined, 'invalid_credentials')), 'invalid_credentials');
    assert.equal(pick(classifyBindFailure(invalid, { error: 'accountLocked' }, 'wrong_password')), 'account_locked');
    assert.equal(pick(classifyBindFailure(invalid, { error: 'passwordExpired' }, 'wrong_password')), 'password_change_required');
    const ad = (data: string) => new InvalidCredentialsError(`80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v2580`);
    assert.equal(pick(classifyBindFailure(ad('775'), undefined, 'wrong_password')), 'account_locked');
    assert.equal(pick(classifyBindFailure(ad('533'), undefined, 'wrong_password')), 'account_locked');
    assert.equal(pick(classifyBindFailure(ad('701'), undefined, 'wrong_password')), 'account_expired');
    assert.equal(pick(classifyBindFailure(ad('773'), undefined, 'wrong_password')), 'password_change_required');
    assert.equal(pick(classifyBindFailure(ad('525'), undefined, 'invalid_credentials')), 'invalid_credentials');
    assert.equal(pick(classifyBindFailure(new UnwillingToPerformError('Account inactivated. Contact system administrator.'), undefined, 'wrong_password')), 'account_locked');
  });
});

function pick(v: ReturnType<typeof classifyBindFailure>): string {
  return v.kind === 'refused' ? v.reason : 'unavailable';
}

describe('server list', () => {
  it('tries backed-off servers last, and all of them when all are backed off', () => {
    let now = 1000;
    const list = createServerList(['a', 'b', 'c'], 500, () => now);
    assert.deepEqual(list.order(), ['a', 'b', 'c']);
    list.markDead('a');
    assert.deepEqual(list.order(), ['b', 'c', 'a']);
    now += 100;
    list.markDead('b');
    list.markDead('c');
    assert.deepEqual(list.order(), ['a', 'b', 'c'], 'soonest to recover first');
    now += 450;
    assert.deepEqual(list.order(), ['a', 'b', 'c']);
    assert.equal(list.isBackedOff('a'), false);
    list.markAlive('c');
    assert.deepEqual(list.order(), ['a', 'c', 'b']);
  });
});
