import type { TestUser } from '../test/harness/unix-accounts.js';
import type { Credentials } from './load-spec.js';

/** Groups every bench user is in, so ID tokens carry a realistic handful of groups. */
const GROUPS = ['developers', 'k8s-users', 'oncall', 'wheel', 'docker'];

/** `n` Unix accounts bench0001… with distinct passwords and five supplementary groups each. */
export function benchUsers(n: number): TestUser[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `bench${String(i + 1).padStart(4, '0')}`;
    return { name, password: `pw-${name}-Secret`, uid: 30001 + i, gid: 30001 + i, gecos: `Bench User ${i + 1}`, groups: GROUPS };
  });
}

export function credentialsOf(users: TestUser[]): Credentials[] {
  return users.map((u) => ({ username: u.name, password: u.password }));
}
