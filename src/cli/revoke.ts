import type { Config } from '../config/schema.js';
import { createAccountStore } from '../oidc/account-store.js';
import { createRevocationList } from '../oidc/revocations.js';
import type { ParsedArgs } from './args.js';
import { connectStore } from './connect-store.js';
import { longestGrantSeconds } from '../config/sections/tokens.js';

/**
 * `unixid revoke USER`: end every session, refresh token and (with webhook revocation checking) ID
 * token of a login name, on every replica at once. Exit 0 when something was revoked, 1 when the
 * name never logged in, 2 on a usage error or without a shared store (nothing to revoke in).
 */
export async function revoke(config: Config, args: ParsedArgs, out: NodeJS.WritableStream, now: () => number = Date.now): Promise<number> {
  const username = args.positionals[0];
  if (!username || args.positionals.length > 1) {
    out.write('usage: unixid revoke USER\n');
    return 2;
  }
  let store;
  try {
    store = await connectStore(config);
  } catch (err) {
    // With the memory store, sessions live in each running process: a restart ends them all.
    out.write(`${(err as Error).message}\n`);
    return 2;
  }
  try {
    const accounts = createAccountStore(store.Adapter);
    const revocations = createRevocationList(store.Adapter, longestGrantSeconds(config.tokens));
    const subjects = await accounts.subjectsOf(username);
    if (subjects.length === 0) {
      out.write(`${username} has no recorded logins: nothing to revoke\n`);
      return 1;
    }
    const at = Math.floor(now() / 1000);
    for (const subject of subjects) {
      await revocations.revoke(subject, at);
      await accounts.remove(subject);
    }
    out.write(`revoked every session and token of ${username} issued until ${new Date(at * 1000).toISOString()} (${subjects.length} subject${subjects.length === 1 ? '' : 's'})\n`);
    return 0;
  } finally {
    await store.close();
  }
}
