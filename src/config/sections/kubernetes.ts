import { z } from 'zod';

// Owned by the Kubernetes integration (issue 4).
export const kubernetesSchema = z
  .object({
    webhook: z
      .object({
        enabled: z.boolean().default(true).describe('Serve the TokenReview webhook.'),
        path: z.string().startsWith('/').default('/authenticate').describe('Path of the TokenReview webhook.'),
      })
      .strict()
      .prefault({})
      .describe('TokenReview webhook.'),
  })
  .strict();
