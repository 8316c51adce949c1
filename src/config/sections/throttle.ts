import { z } from 'zod';
import { parseCidr } from '../../store/throttle-subject.js';

// Brute-force protection (issue 6), in the spirit of Authelia's `regulation`: a few failures
// within minutes ban for minutes. Counted per username and per source address, in Redis when
// store.redisUrl is set (shared by every replica), otherwise in this process only.

const limitSchema = (what: string, maxFailures: number) =>
  z
    .object({
      maxFailures: z.coerce
        .number()
        .int()
        .min(1)
        .default(maxFailures)
        .describe(`Failed logins per ${what} within windowSeconds that ban it.`),
      windowSeconds: z.coerce
        .number()
        .int()
        .positive()
        .max(86400)
        .default(300)
        .describe(`Window in which a ${what}'s failures are counted; it starts at the first failure.`),
      banSeconds: z.coerce
        .number()
        .int()
        .positive()
        .max(7 * 86400)
        .default(900)
        .describe(`How long a banned ${what} is refused without its password being checked.`),
    })
    .strict();

export const throttleSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Refuse logins after repeated failures. Turning it off leaves every account open to password guessing.'),
    username: limitSchema('username', 5)
      .prefault({})
      .describe('Per-username limit; case variants and Unicode look-alikes of a name share one counter.'),
    ip: limitSchema('source address', 20)
      .prefault({})
      .describe('Per-address limit (IPv6 per /64). Behind a proxy set server.trustProxy, or every user shares the proxy\'s counter.'),
    allowList: z
      .array(z.string().refine((s) => parseCidr(s) !== undefined, 'must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)'))
      .default([])
      .describe('Addresses and CIDRs never banned by the per-address limit (their usernames still are).'),
    maxInFlightPerAddress: z.coerce
      .number()
      .int()
      .min(0)
      .default(8)
      .describe(
        'Password checks one source address may have running or waiting at once on each replica; more are refused at once (429) without reaching PAM or LDAP. Allow-listed addresses are exempt; 0 disables the limit.',
      ),
    minResponseMs: z.coerce
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .describe(
        'Shortest time a failed or throttled login takes to answer, so an unknown user (refused at once) looks like a known one (refused after PAM\'s delay). 0 disables the padding.',
      ),
  })
  .strict();

export type ThrottleConfig = z.infer<typeof throttleSchema>;
