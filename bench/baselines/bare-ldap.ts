// Baseline: what one LDAP login costs with nothing but ldapts. The same three steps as unixid's
// bind-search-bind with LDAP groups: search the user on a bound service connection, bind as the
// user on a fresh connection, search the groups. BENCH_LDAP = {url, baseDn, groupBaseDn,
// serviceDn, servicePassword, users: [{username, password}]}.
import { Client } from 'ldapts';
import { serveOpLoop } from './op-loop.js';

interface Settings {
  url: string;
  baseDn: string;
  groupBaseDn: string;
  serviceDn: string;
  servicePassword: string;
  users: { username: string; password: string }[];
}

const settings = JSON.parse(process.env.BENCH_LDAP ?? '{}') as Settings;
// The attributes unixid asks for (claims and ppolicy account state), so the answers are the same size.
const USER_ATTRIBUTES = ['uid', 'cn', 'mail', 'uidNumber', 'gidNumber', 'entryUUID', 'pwdAccountLockedTime', 'pwdReset', 'nsAccountLock', 'userAccountControl'];

serveOpLoop(async () => {
  const service = new Client({ url: settings.url, timeout: 10_000, connectTimeout: 5000 });
  await service.bind(settings.serviceDn, settings.servicePassword);
  return {
    async op(seq) {
      const user = settings.users[seq % settings.users.length]!;
      const { searchEntries } = await service.search(settings.baseDn, {
        scope: 'sub',
        filter: `(&(objectClass=posixAccount)(uid=${user.username}))`,
        attributes: USER_ATTRIBUTES,
        sizeLimit: 2,
        derefAliases: 'never',
      });
      const dn = searchEntries[0]?.dn;
      if (!dn) return false;
      const own = new Client({ url: settings.url, timeout: 10_000, connectTimeout: 5000 });
      try {
        await own.bind(dn, user.password);
      } finally {
        await own.unbind();
      }
      // Some users are in no group: the search is what counts, not what it finds.
      await service.search(settings.groupBaseDn, {
        scope: 'sub',
        filter: `(|(&(objectClass=groupOfNames)(member=${dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember=${dn}))(&(objectClass=posixGroup)(memberUid=${user.username})))`,
        attributes: ['cn'],
        derefAliases: 'never',
        paged: { pageSize: 500 },
      });
      return true;
    },
  };
});
