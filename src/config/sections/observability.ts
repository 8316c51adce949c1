import { z } from 'zod';

export const observabilitySchema = z
  .object({
    metrics: z
      .object({
        enabled: z.boolean().default(true).describe('Serve Prometheus metrics (logins, refreshes, token reviews, latencies, process).'),
        path: z
          .string()
          .regex(/^\/[A-Za-z0-9._~/-]*$/, 'must be an absolute URL path')
          .default('/metrics')
          .describe('Path of the metrics endpoint; keep it off the public ingress.'),
      })
      .strict()
      .prefault({})
      .describe('Prometheus metrics.'),
    audit: z
      .object({
        file: z
          .string()
          .min(1)
          .optional()
          .describe('Append audit events (logins, refresh denials, revocations, key rotations) to this file; unset: they go to stdout with the other logs, marked audit:true.'),
      })
      .strict()
      .prefault({})
      .describe('Audit stream of security events.'),
    requestIdHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
      .default('x-request-id')
      .describe('Header that carries the request id (kept from the client or proxy when well-formed, and echoed back).'),
  })
  .strict();

export type ObservabilityConfig = z.infer<typeof observabilitySchema>;
