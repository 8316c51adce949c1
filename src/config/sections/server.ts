import { z } from 'zod';
import { tlsSchema } from './tls.js';

export const serverSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0').describe('Address to listen on.'),
    port: z.coerce.number().int().min(0).max(65535).default(8080).describe('TCP port to listen on.'),
    trustProxy: z
      .union([z.boolean(), z.number().int().min(0), z.string()])
      .default(false)
      .describe("Express 'trust proxy' setting: true/false, hop count, or a list of proxy addresses (CIDR)."),
    shutdownGraceSeconds: z.coerce.number().min(0).max(600).default(20).describe('How long in-flight requests may run after SIGTERM.'),
    shutdownDelaySeconds: z.coerce
      .number()
      .min(0)
      .max(120)
      .default(0)
      .describe('After SIGTERM, answer /readyz 503 for this long before closing the listener, so load balancers stop sending first.'),
    tls: tlsSchema.prefault({}).describe('HTTPS served by unixid itself (unset certFile: plain HTTP behind a TLS proxy). The client CA enables mutual TLS for the webhooks.'),
  })
  .strict();
