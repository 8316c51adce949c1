import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const WRAPPER_DIR = '/usr/lib/x86_64-linux-gnu/pam_wrapper';

export interface TestUser {
  name: string;
  password: string;
  uid: number;
  gid: number;
  gecos?: string;
  /** Supplementary groups (names); the primary group is named after the user. */
  groups?: string[];
  /** false: pam_matrix's account phase denies the user (an expired or locked account). */
  accountAllowed?: boolean;
  /** false: the user exists in NSS but PAM does not know a password for it. */
  inPam?: boolean;
}

/** The default accounts: alice has several supplementary groups, carol's account phase is denied. */
export const USERS: TestUser[] = [
  { name: 'alice', password: 'alice-Secret-1', uid: 2001, gid: 2001, gecos: 'Alice Liddell,Room 1,,', groups: ['developers', 'k8s-admins', 'wheel'] },
  { name: 'bob', password: 'bob-Secret-2', uid: 2002, gid: 2002, gecos: 'Bob Builder', groups: ['developers'] },
  { name: 'carol', password: 'carol-Secret-3', uid: 2003, gid: 2003, gecos: 'Carol Locked', groups: ['developers'], accountAllowed: false },
];

/**
 * A test-owned PAM service and passwd/group files for pam_wrapper and nss_wrapper. Nothing on the
 * system is touched: the server process gets `env` (LD_PRELOAD and the wrapper variables).
 * `setUsers` rewrites the files; both wrappers read them on every call, so changes apply at once.
 */
export interface UnixAccounts {
  service: string;
  env: Record<string, string>;
  setUsers(users: TestUser[]): Promise<void>;
}

/** Lay out the service directory and account files under `dir` for `users`. */
export async function createUnixAccounts(dir: string, users: TestUser[] = USERS, service = 'unixid-test'): Promise<UnixAccounts> {
  const serviceDir = join(dir, 'pam.d');
  await mkdir(serviceDir, { recursive: true });
  const passdb = join(dir, 'passdb');
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  const matrix = `${WRAPPER_DIR}/pam_matrix.so passdb=${passdb}`;
  const stack = `auth required ${matrix}\naccount required ${matrix}\n`;
  await writeFile(join(serviceDir, service), stack);
  // pam_wrapper wants a fallback service too; it denies everything.
  await writeFile(join(serviceDir, 'other'), `auth required ${WRAPPER_DIR}/pam_matrix.so passdb=/nonexistent\naccount required ${WRAPPER_DIR}/pam_matrix.so passdb=/nonexistent\n`);

  async function setUsers(list: TestUser[]): Promise<void> {
    // pam_matrix's account phase allows a user only for the service named on its line.
    const pamLines = list
      .filter((u) => u.inPam !== false)
      .map((u) => `${u.name}:${u.password}:${u.accountAllowed === false ? 'some-other-service' : service}`);
    await writeFile(passdb, `${pamLines.join('\n')}\n`, { mode: 0o600 });
    await writeFile(passwd, list.map((u) => `${u.name}:x:${u.uid}:${u.gid}:${u.gecos ?? ''}:/home/${u.name}:/bin/sh`).join('\n') + '\n');
    const groups = new Map<string, { gid: number; members: string[] }>();
    for (const u of list) groups.set(u.name, { gid: u.gid, members: [] });
    let nextGid = 5000;
    for (const u of list) {
      for (const g of u.groups ?? []) {
        if (!groups.has(g)) groups.set(g, { gid: nextGid++, members: [] });
        groups.get(g)!.members.push(u.name);
      }
    }
    await writeFile(group, [...groups].map(([name, g]) => `${name}:x:${g.gid}:${g.members.join(',')}`).join('\n') + '\n');
  }
  await setUsers(users);

  return {
    service,
    setUsers,
    env: {
      LD_PRELOAD: 'libpam_wrapper.so:libnss_wrapper.so',
      PAM_WRAPPER: '1',
      PAM_WRAPPER_SERVICE_DIR: serviceDir,
      NSS_WRAPPER_PASSWD: passwd,
      NSS_WRAPPER_GROUP: group,
    },
  };
}
