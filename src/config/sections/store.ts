import { z } from 'zod';

export const storeSchema = z
  .object({
    redisUrl: z
      .string()
      .regex(/^rediss?(\+sentinel)?:\/\//, 'must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://')
      .optional()
      .describe('Redis URL. Unset means an in-memory store that loses every session on restart (refused in production).'),
    keyPrefix: z.string().default('unixid:').describe('Prefix of every Redis key unixid writes.'),
    connectTimeoutMs: z.coerce.number().int().positive().default(5000).describe('Redis connect timeout.'),
  })
  .strict();
