import { z } from 'zod';

export const tlsSchema = z
  .object({
    certFile: z.string().min(1).optional().describe('PEM certificate (chain) to serve HTTPS with; reloaded when the file changes. Unset: plain HTTP (behind a TLS proxy).'),
    keyFile: z.string().min(1).optional().describe('PEM private key of certFile; reloaded with it.'),
    clientCaFile: z
      .string()
      .min(1)
      .optional()
      .describe('PEM CA that signs client certificates: clients are asked for one, and the TokenReview webhook requires it (mutual TLS with kube-apiserver).'),
    reloadIntervalMs: z.coerce
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('How often the certificate files are checked for changes (cert-manager and Secret volumes swap them in place).'),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [tls.certFile === undefined ? 'certFile' : 'keyFile'], message: 'certFile and keyFile go together' });
    }
    if (tls.clientCaFile !== undefined && tls.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientCaFile'], message: 'client certificates need HTTPS: set certFile and keyFile too' });
    }
  });

export type TlsConfig = z.infer<typeof tlsSchema>;
