import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CredentialBackend, LoginResult } from '../../src/backends/types.js';
import { createLdapGroupSource } from '../../src/backends/ldap/ldap-groups.js';
import { createGroupFilter } from '../../src/directory/group-filter.js';
import { BackendUnavailableError } from '../../src/errors.js';
import { accountRefOf, type Identity } from '../../src/identity.js';
import { freePort } from '../harness/ports.js';
import { BASE_DN, slapdAvailable, startSlapd, type Slapd } from '../harness/slapd.js';
import { backendFactory, fakeDirectory, ldapConfig, PASSWORDS, pw } from './ldap-helpers.js';
import { captureLogs } from '../harness/capture-logs.js';

const PEOPLE = `ou=people,${BASE_DN}`;
const GROUPS = `ou=groups,${BASE_DN}`;

function identityOf(result: LoginResult): Identity {
  assert.equal(result.ok, true, `expected a successful login, got ${JSON.stringify(result)}`);
  return (result as { identity: Identity }).identity;
}

function refusal(result: LoginResult): string {
  assert.equal(result.ok, false, `expected a refused login, got ${JSON.stringify(result)}`);
  return (result as { reason: string }).reason;
}

describe('LDAP backend against a real slapd', { skip: !slapdAvailable() && 'slapd is not installed' }, () => {
  let slapd: Slapd;
  const logs = captureLogs();
  const backends = backendFactory(logs.logger);
  let main: CredentialBackend;

  before(async () => {
    slapd = await startSlapd();
    main = backends.make(ldapConfig([slapd.url]));
  });

  after(async () => {
    await backends.closeAll();
    await slapd?.close();
  });

  describe('bind-search-bind with the service account', () => {
    it('logs alice in with her entry mapped to an identity', async () => {
      const identity = identityOf(await main.login('alice', pw('alice-password'), { requestId: 't1' }));
      assert.equal(identity.subject, '00000000-0000-4000-8000-000000000002', 'subject is the entryUUID');
      assert.equal(identity.username, 'alice');
      assert.equal(identity.uid, 10001);
      assert.equal(identity.gid, 10001);
      assert.equal(identity.name, 'Alice Liddell');
      assert.equal(identity.email, 'alice@example.org');
      assert.equal(identity.backend, 'ldap');
      assert.equal(identity.dn, `uid=alice,${PEOPLE}`);
      assert.deepEqual(identity.groups, ['admins', 'auditors', 'developers']);
    });

    it('returns the directory spelling of a login name typed in another case', async () => {
      const identity = identityOf(await main.login('ALICE', pw('alice-password'), {}));
      assert.equal(identity.username, 'alice');
    });

    it('tells a wrong password from an unknown user (in the log; the user sees one message)', async () => {
      assert.equal(refusal(await main.login('alice', pw('not-her-password'), {})), 'wrong_password');
      assert.equal(refusal(await main.login('nobody', pw('whatever'), {})), 'unknown_user');
    });

    it('does not find a user the filter excludes, even with the right password', async () => {
      assert.equal(refusal(await main.login('mallory', pw('mallory-password'), {})), 'unknown_user');
    });

    it('never sends an empty password to a bind, even when no server is reachable', async () => {
      const deadPort = await freePort();
      const offline = backends.make(ldapConfig([`ldap://127.0.0.1:${deadPort}`]));
      assert.equal(refusal(await main.login('alice', pw(''), {})), 'invalid_credentials');
      assert.equal(refusal(await offline.login('alice', pw(''), {})), 'invalid_credentials');
    });

    it('refuses malformed login names before any LDAP traffic', async () => {
      for (const name of ['', 'a'.repeat(257), 'ali\nce', 'al\u0000ice', ' alice', 'x'.repeat(10_000)]) {
        assert.equal(refusal(await main.login(name, pw('alice-password'), {})), 'invalid_username', JSON.stringify(name.slice(0, 20)));
      }
    });

    it('never logs anyone in through filter injection', async () => {
      const attempts = ['*', ')(uid=*', 'admin)(|(uid=*', 'alice)(uid=*', '*)(uid=alice', 'al*', '*)(|(objectClass=*', 'alice)(|(uid=*)', '\\2a', 'alice\\29', 'a'.repeat(256)];
      for (const name of attempts) {
        for (const password of ['alice-password', 'bob-password', '*']) {
          const result = await main.login(name, pw(password), {});
          assert.equal(result.ok, false, `${JSON.stringify(name)} / ${password} must not log in`);
          assert.ok(['unknown_user', 'invalid_username'].includes((result as { reason: string }).reason), `${name}: ${JSON.stringify(result)}`);
        }
      }
    });

    it('refuses a login name that matches several entries, and logs the configuration problem', async () => {
      assert.equal(refusal(await main.login('dup', pw('dup-password'), {})), 'invalid_credentials');
      const line = logs.records().find((r) => r.level === 50 && String(r.msg).includes('several LDAP entries'));
      assert.ok(line, 'an error line names the ambiguity');
      assert.deepEqual(line.dns, [`uid=dup,${PEOPLE}`, `uid=dup,ou=contractors,${BASE_DN}`]);
    });

    it('reads the service password from passwordFile', async () => {
      const file = join(slapd.dir, 'bind-password');
      await writeFile(file, 'service-secret\n');
      const backend = backends.make(ldapConfig([slapd.url], { bind: { password: undefined, passwordFile: file } }));
      identityOf(await backend.login('bob', pw('bob-password'), {}));
    });

    it('is unavailable (not a refusal) when the service account is refused', async () => {
      const backend = backends.make(ldapConfig([slapd.url], { bind: { password: 'wrong-service-password' } }));
      await assert.rejects(backend.login('alice', pw('alice-password'), {}), (err: unknown) => {
        assert.ok(err instanceof BackendUnavailableError);
        assert.match(err.detail ?? '', /service account bind as cn=unixid.*refused.*49/);
        return true;
      });
      assert.equal((await backend.health()).ok, false);
    });

    it('reports health through the service connection', async () => {
      const health = await main.health();
      assert.equal(health.ok, true);
      assert.match(health.detail ?? '', new RegExp(slapd.url.replace(/[.:/]/g, '\\$&')));
    });
  });

  describe('direct bind and anonymous search', () => {
    it('binds directly as the templated DN without any service account', async () => {
      const backend = backends.make(ldapConfig([slapd.url], { bind: { dn: '', password: undefined }, userDnTemplate: `uid={username},${PEOPLE}` }));
      const identity = identityOf(await backend.login('alice', pw('alice-password'), {}));
      assert.equal(identity.dn, `uid=alice,${PEOPLE}`);
      assert.deepEqual(identity.groups, ['admins', 'auditors', 'developers']);
      // RFC 4514: the comma in the login name stays inside the RDN value.
      assert.equal(identityOf(await backend.login('j,doe', pw('jdoe-password'), {})).username, 'j,doe');
      assert.equal(refusal(await backend.login('alice', pw('wrong'), {})), 'invalid_credentials');
      assert.equal(refusal(await backend.login('nobody', pw('wrong'), {})), 'invalid_credentials');
      // The filter still applies: mallory's password is right but she is no posixAccount.
      assert.equal(refusal(await backend.login('mallory', pw('mallory-password'), {})), 'access_denied');
      for (const name of ['*', 'alice,ou=people', 'alice+cn=x', '#alice', 'alice ']) {
        assert.equal((await backend.login(name, pw('alice-password'), {})).ok, false, name);
      }
    });

    it('searches anonymously when no bind DN is configured', async () => {
      const backend = backends.make(ldapConfig([slapd.url], { bind: { dn: '', password: undefined } }));
      assert.equal(identityOf(await backend.login('bob', pw('bob-password'), {})).username, 'bob');
      assert.equal(refusal(await backend.login('bob', pw('nope'), {})), 'wrong_password');
      assert.equal((await backend.health()).ok, true);
    });
  });

  describe('TLS', () => {
    it('logs in over StartTLS with the test CA', async () => {
      const backend = backends.make(ldapConfig([slapd.url], { allowInsecure: false, startTLS: true, tls: { caFile: slapd.pki!.caFile } }));
      identityOf(await backend.login('alice', pw('alice-password'), {}));
      assert.equal((await backend.health()).ok, true);
      // The password-policy answer is read from inside the TLS session too.
      if (slapd.ppolicy) assert.equal(refusal(await backend.login('locked', pw('locked-password'), {})), 'account_locked');
    });

    it('logs in over ldaps:// with the test CA (by IP and by server name)', async () => {
      const byIp = backends.make(ldapConfig([slapd.ldapsUrl], { allowInsecure: false, tls: { caFile: slapd.pki!.caFile } }));
      identityOf(await byIp.login('alice', pw('alice-password'), {}));
      const byName = backends.make(ldapConfig([slapd.ldapsUrl], { allowInsecure: false, tls: { caFile: slapd.pki!.caFile, serverName: 'localhost' } }));
      identityOf(await byName.login('bob', pw('bob-password'), {}));
      assert.equal(refusal(await byName.login('bob', pw('not-bobs'), {})), 'wrong_password');
      if (slapd.ppolicy) assert.equal(refusal(await byName.login('reset', pw('reset-password'), {})), 'password_change_required');
    });

    it('refuses to talk to a server whose certificate is not trusted', async () => {
      const ldaps = backends.make(ldapConfig([slapd.ldapsUrl], { allowInsecure: false, tls: { caFile: slapd.pki!.otherCaFile } }));
      await assert.rejects(ldaps.login('alice', pw('alice-password'), {}), (err: unknown) => {
        assert.ok(err instanceof BackendUnavailableError);
        assert.match(err.detail ?? '', /certificate|self[- ]signed|verify/i);
        assert.ok((err.detail ?? '').includes(slapd.ldapsUrl));
        return true;
      });
      const startTls = backends.make(ldapConfig([slapd.url], { allowInsecure: false, startTLS: true, tls: { caFile: slapd.pki!.otherCaFile } }));
      await assert.rejects(startTls.login('alice', pw('alice-password'), {}), BackendUnavailableError);
      const wrongName = backends.make(ldapConfig([slapd.ldapsUrl], { allowInsecure: false, tls: { caFile: slapd.pki!.caFile, serverName: 'ldap.example.org' } }));
      await assert.rejects(wrongName.login('alice', pw('alice-password'), {}), BackendUnavailableError);
    });
  });

  describe('groups', () => {
    it('follows nested groupOfNames up to maxDepth', async () => {
      const nested = backends.make(ldapConfig([slapd.url], { groupSearch: { nested: true } }));
      assert.deepEqual(identityOf(await nested.login('alice', pw('alice-password'), {})).groups, ['admins', 'auditors', 'developers', 'everyone', 'ops', 'platform']);
      const shallow = backends.make(ldapConfig([slapd.url], { groupSearch: { nested: true, maxDepth: 1 } }));
      assert.deepEqual(identityOf(await shallow.login('alice', pw('alice-password'), {})).groups, ['admins', 'auditors', 'developers', 'ops']);
    });

    it('ends membership cycles', async () => {
      const nested = backends.make(ldapConfig([slapd.url], { groupSearch: { nested: true, maxDepth: 10 } }));
      assert.deepEqual(identityOf(await nested.login('erin', pw('erin-password'), {})).groups, ['cycle-a', 'cycle-b', 'erin-team']);
    });

    it('never lets a directory group become system:masters', async () => {
      const identity = identityOf(await main.login('alice', pw('alice-password'), {}));
      assert.ok(!identity.groups.some((g) => g.startsWith('system:')));
    });

    it('takes groups from NSS, LDAP or both, as configured', async () => {
      const directory = fakeDirectory({ alice: ['alice', 'wheel'] });
      const nss = backends.make(ldapConfig([slapd.url]), { groupSource: 'nss', directory });
      assert.deepEqual(identityOf(await nss.login('alice', pw('alice-password'), {})).groups, ['alice', 'wheel']);
      // bob is in LDAP but unknown to NSS: no NSS groups, not an error.
      assert.deepEqual(identityOf(await nss.login('bob', pw('bob-password'), {})).groups, []);
      const both = backends.make(ldapConfig([slapd.url]), { groupSource: 'both', directory });
      assert.deepEqual(identityOf(await both.login('alice', pw('alice-password'), {})).groups, ['admins', 'alice', 'auditors', 'developers', 'wheel']);
    });

    it('is unavailable when NSS cannot answer', async () => {
      const broken = backends.make(ldapConfig([slapd.url]), { groupSource: 'nss', directory: fakeDirectory({}, true) });
      await assert.rejects(broken.login('alice', pw('alice-password'), {}), BackendUnavailableError);
    });

    it('serves LDAP groups on their own for a backend that only knows a login name', async () => {
      const source = createLdapGroupSource({ ldap: ldapConfig([slapd.url]), logger: logs.logger });
      try {
        // Raw names: filtering (system: included) is the caller's job.
        assert.deepEqual((await source.groupsOf({ username: 'alice' })).sort(), ['admins', 'auditors', 'developers', 'system:masters']);
        assert.deepEqual((await source.groupsOf({ username: 'bob', dn: `uid=bob,${PEOPLE}` })).sort(), ['developers', 'ops']);
        assert.deepEqual(await source.groupsOf({ username: 'nobody' }), []);
      } finally {
        await source.close();
      }
    });

    it('applies include, exclude and prefix to LDAP groups', async () => {
      const groupFilter = createGroupFilter({ include: ['dev*', 'adm*', 'aud*'], exclude: ['auditors'], prefix: 'ldap:' });
      const backend = backends.make(ldapConfig([slapd.url]), { groupFilter });
      assert.deepEqual(identityOf(await backend.login('alice', pw('alice-password'), {})).groups, ['ldap:admins', 'ldap:developers']);
    });
  });

  describe('password policy', () => {
    it('tells locked, expired and must-change accounts apart', async (t) => {
      if (!slapd.ppolicy) return t.skip('no ppolicy overlay');
      assert.equal(refusal(await main.login('locked', pw('locked-password'), {})), 'account_locked');
      assert.equal(refusal(await main.login('expired', pw('expired-password'), {})), 'password_change_required');
      assert.equal(refusal(await main.login('reset', pw('reset-password'), {})), 'password_change_required');
      // A wrong password for a locked account says nothing more than "locked" either.
      assert.equal(refusal(await main.login('locked', pw('wrong'), {})), 'account_locked');
    });

    it('refuses the refresh of an account locked after login', async (t) => {
      if (!slapd.ppolicy) return t.skip('no ppolicy overlay');
      const identity = identityOf(await main.login('bob', pw('bob-password'), {}));
      await slapd.modify(`dn: uid=bob,${PEOPLE}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`);
      try {
        const result = await main.refresh(accountRefOf(identity), {});
        assert.deepEqual(result.ok ? 'ok' : result.reason, 'account_locked');
        assert.equal(refusal(await main.login('bob', pw('bob-password'), {})), 'account_locked');
      } finally {
        await slapd.modify(`dn: uid=bob,${PEOPLE}\nchangetype: modify\ndelete: pwdAccountLockedTime\n`);
      }
      identityOf(await main.login('bob', pw('bob-password'), {}));
    });
  });

  describe('refresh', () => {
    it('re-reads groups and keeps the identity', async () => {
      const identity = identityOf(await main.login('erin', pw('erin-password'), {}));
      assert.deepEqual(identity.groups, ['cycle-b', 'erin-team']);
      await slapd.modify(`dn: cn=erin-team,${GROUPS}\nchangetype: modify\ndelete: memberUid\nmemberUid: erin\n`);
      const result = await main.refresh(accountRefOf(identity), {});
      assert.ok(result.ok, JSON.stringify(result));
      assert.deepEqual(result.identity.groups, ['cycle-b']);
      assert.equal(result.identity.subject, identity.subject);
      assert.equal(result.identity.dn, identity.dn);
    });

    it('refuses a deleted account, and a new account under the old DN', async () => {
      const identity = identityOf(await main.login('carol', pw('carol-password'), {}));
      const ref = accountRefOf(identity);
      assert.ok((await main.refresh(ref, {})).ok);
      await slapd.remove(`uid=carol,${PEOPLE}`);
      let result = await main.refresh(ref, {});
      assert.equal(result.ok ? 'ok' : result.reason, 'account_gone');
      await slapd.modify(
        `dn: uid=carol,${PEOPLE}\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: carol\ncn: Another Carol\nsn: C\nuidNumber: 10003\ngidNumber: 10003\nhomeDirectory: /home/carol\n`,
      );
      result = await main.refresh(ref, {});
      assert.equal(result.ok ? 'ok' : result.reason, 'account_gone');
      assert.match(result.ok ? '' : (result.detail ?? ''), /subject changed/);
    });

    it('refuses an account moved to another DN', async () => {
      const identity = identityOf(await main.login('dave', pw('dave-password'), {}));
      await slapd.move(`uid=dave,${PEOPLE}`, 'uid=dave', `ou=former,${BASE_DN}`);
      const result = await main.refresh(accountRefOf(identity), {});
      assert.equal(result.ok ? 'ok' : result.reason, 'account_gone');
      assert.match(result.ok ? '' : (result.detail ?? ''), /DN changed/);
    });

    it('refuses an account the filter no longer matches', async () => {
      const identity = identityOf(await main.login('j,doe', pw('jdoe-password'), {}));
      await slapd.modify(`dn: uid=j\\,doe,${PEOPLE}\nchangetype: modify\ndelete: objectClass\nobjectClass: posixAccount\n-\ndelete: uidNumber\n-\ndelete: gidNumber\n-\ndelete: homeDirectory\n`);
      const result = await main.refresh(accountRefOf(identity), {});
      assert.equal(result.ok ? 'ok' : result.reason, 'account_gone');
    });

    it('re-checks direct-bind accounts through the templated DN', async () => {
      const backend = backends.make(ldapConfig([slapd.url], { userDnTemplate: `uid={username},${PEOPLE}` }));
      const identity = identityOf(await backend.login('alice', pw('alice-password'), {}));
      const result = await backend.refresh(accountRefOf(identity), {});
      assert.ok(result.ok);
      assert.deepEqual(result.identity.groups, identity.groups);
      const gone = await backend.refresh({ ...accountRefOf(identity), username: 'ghost', dn: `uid=ghost,${PEOPLE}` }, {});
      assert.equal(gone.ok ? 'ok' : gone.reason, 'account_gone');
    });
  });

  it('never writes a password into the log', () => {
    assert.ok(logs.lines.length > 20, 'the suite produced log lines to check');
    for (const line of logs.lines) {
      for (const secret of PASSWORDS) assert.ok(!line.includes(secret), `log line contains a password: ${line}`);
    }
  });
});
