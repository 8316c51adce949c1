import { z } from 'zod';

export const pamSchema = z
  .object({
    service: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a PAM service name').default('unixid').describe('PAM service name (/etc/pam.d/<service>).'),
    maxConcurrent: z.coerce.number().int().min(1).max(64).default(4).describe('PAM transactions running at once (each on its own thread, off the event loop).'),
    maxQueue: z.coerce.number().int().min(0).default(256).describe('Logins waiting for a PAM thread before new ones are refused as unavailable.'),
    timeoutMs: z.coerce.number().int().positive().default(15000).describe('Give up waiting for a PAM transaction after this long (the thread still finishes).'),
  })
  .strict();
