import { throttleSchema } from '../config/sections/throttle.js';
import type { Config } from '../config/schema.js';
import { createRedisLoginThrottle, type ThrottleSubject } from '../store/login-throttle.js';
import { parseThrottleIp, throttleUsername } from '../store/throttle-subject.js';
import type { ParsedArgs } from './args.js';
import { connectStore } from './connect-store.js';

const EXIT_LIFTED = 0;
const EXIT_NOT_BANNED = 1;
const EXIT_CANNOT = 2;

const USAGE = `usage: unixid unban USER|IP

Lifts a login ban and clears the failure counter of a username or a source address in Redis
(shared by every replica). An argument that parses as an IP address (or an IPv6 /64) is an
address; anything else is a username. Force either with a prefix: user:NAME, ip:ADDRESS.
Exit status: 0 a ban was lifted, 1 nothing was banned (counters cleared anyway), 2 usage error
or no reachable Redis.
`;

/** What the operator named, and how to print it. */
type Target = { subject: ThrottleSubject; label: string };

/** The subject an argument names, or a reason it names none. */
function parseTarget(arg: string): Target | { problem: string } {
  if (arg.startsWith('ip:')) {
    const bucket = parseThrottleIp(arg.slice(3));
    return bucket ? { subject: { ip: bucket }, label: `address ${bucket}` } : { problem: `'${arg.slice(3)}' is not an IP address` };
  }
  const name = arg.startsWith('user:') ? arg.slice(5) : undefined;
  if (name === undefined) {
    const bucket = parseThrottleIp(arg);
    if (bucket) {
      // The ban is on the bucket (IPv6 /64), so say which one.
      return { subject: { ip: bucket }, label: bucket === arg ? `address ${bucket}` : `address ${bucket} (from ${arg})` };
    }
  }
  const username = name ?? arg;
  if (username === '') return { problem: 'empty username' };
  const folded = throttleUsername(username);
  return { subject: { username }, label: folded === username ? `user '${username}'` : `user '${username}' (counted as '${folded}')` };
}

/**
 * `unixid unban USER|IP`: lifts the ban and clears the counters of a username (every spelling that
 * folds to it) or an address bucket in the configured Redis. Resolves the exit code: 0 a ban was
 * lifted, 1 nothing was banned, 2 usage error, no Redis configured, or Redis unreachable within
 * store.connectTimeoutMs. Never rejects for those; rejects only on unexpected errors.
 */
export async function unban(config: Config, args: ParsedArgs, out: NodeJS.WritableStream): Promise<number> {
  const [arg, ...extra] = args.positionals;
  if (arg === undefined || extra.length > 0) {
    out.write(USAGE);
    return EXIT_CANNOT;
  }
  const target = parseTarget(arg);
  if ('problem' in target) {
    out.write(`unixid unban: ${target.problem}\n\n${USAGE}`);
    return EXIT_CANNOT;
  }
  if (!config.store.redisUrl) {
    out.write(
      'unixid unban: store.redisUrl is not set, so there is nothing shared to unban: without Redis each unixid ' +
        'process keeps its own bans in memory, and only restarting it (or waiting for the ban to expire) lifts them.\n',
    );
    return EXIT_CANNOT;
  }

  let store;
  try {
    store = await connectStore(config);
  } catch (err) {
    out.write(`unixid unban: ${(err as Error).message}\n`);
    return EXIT_CANNOT;
  }
  try {
    // unban and status read no limits, only the key prefix; the defaults just fill the options.
    const throttle = createRedisLoginThrottle(store.redis!, { ...throttleSchema.parse({}), keyPrefix: config.store.keyPrefix });
    const before = await throttle.status(target.subject);
    const lifted = await throttle.unban(target.subject);
    const cleared = `${before.failures} recent failure${before.failures === 1 ? '' : 's'} cleared`;
    if (lifted) {
      out.write(`unbanned ${target.label}: the ban had ${before.bannedForSeconds} s left; ${cleared}\n`);
      return EXIT_LIFTED;
    }
    out.write(`${target.label} was not banned; ${cleared}\n`);
    return EXIT_NOT_BANNED;
  } finally {
    await store.close();
  }
}

