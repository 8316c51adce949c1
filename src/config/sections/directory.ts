import { z } from 'zod';

export const nssSchema = z
  .object({
    cacheTtlSeconds: z.coerce.number().min(0).default(30).describe('How long NSS user and group answers are cached (0 disables).'),
    timeoutMs: z.coerce.number().int().positive().default(5000).describe('An NSS lookup slower than this fails as unavailable instead of hanging.'),
    threads: z.coerce.number().int().min(1).max(16).default(2).describe('Threads doing NSS lookups off the event loop.'),
  })
  .strict();

export const groupsSchema = z
  .object({
    source: z.enum(['nss', 'ldap', 'both']).default('nss').describe('Where group memberships come from.'),
    include: z.array(z.string()).default([]).describe("Glob patterns ('*', '?'); when non-empty only matching groups are kept."),
    exclude: z.array(z.string()).default([]).describe('Glob patterns of groups to drop (applied after include).'),
    prefix: z.string().default('').describe("Prefix added to every group name, e.g. 'unix:'."),
  })
  .strict();
