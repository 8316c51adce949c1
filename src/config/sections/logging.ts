import { z } from 'zod';

export const loggingSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
    pretty: z.boolean().default(false).describe('Human-readable logs instead of JSON lines (development only).'),
  })
  .strict();
