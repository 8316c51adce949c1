import { z } from 'zod';

const DAY = 86400;

const seconds = (def: number, min: number, doc: string) => z.coerce.number().int().min(min).default(def).describe(doc);

export const keysSchema = z
  .object({
    source: z
      .enum(['auto', 'file', 'redis', 'generated'])
      .default('auto')
      .describe(
        'Where signing keys come from. file: signingKeyFile (operator-managed, the first key signs). redis: generated and rotated automatically, shared by every replica (private keys are stored in Redis: protect it like a key file, with rediss:// and an ACL user). generated: one key in dataDir (development; refused in production). auto: file if signingKeyFile is set, else redis if store.redisUrl is set, else generated.',
      ),
    signingKeyFile: z
      .string()
      .optional()
      .describe(
        'PEM (PKCS#8 RSA/EC private keys) or JWK-set file with the signing key(s), e.g. a mounted Secret: the first key signs, all are published, and the file is re-read when it changes. Unset: see source.',
      ),
    cookieKeys: z
      .array(z.string().min(16))
      .optional()
      .describe('Cookie signing keys, newest first (prepend to rotate). Unset: generated into dataDir (refused in production).'),
    rotationSeconds: seconds(30 * DAY, 3600, 'redis source: how long a key signs before its successor takes over.'),
    prepublishSeconds: seconds(
      DAY,
      60,
      'redis source: how long a new key is in the JWKS before it signs. kube-apiserver refetches the JWKS on an unknown kid only after its cached copy expires, so keep this well above that cache lifetime and above pollSeconds.',
    ),
    retainSeconds: seconds(3600, 0, 'redis source: how long a retired key stays published beyond the longest token it signed (clock skew, slow replicas).'),
    pollSeconds: seconds(30, 1, 'redis source: how often each replica re-reads the key ring (and does due maintenance).'),
  })
  .strict()
  .superRefine((keys, ctx) => {
    if (keys.prepublishSeconds >= keys.rotationSeconds) {
      ctx.addIssue({ code: 'custom', path: ['prepublishSeconds'], message: `must be less than rotationSeconds (${keys.rotationSeconds})` });
    }
    if (keys.pollSeconds >= keys.prepublishSeconds) {
      ctx.addIssue({ code: 'custom', path: ['pollSeconds'], message: `must be less than prepublishSeconds (${keys.prepublishSeconds}): every replica must publish a key before any signs with it` });
    }
    if (keys.source === 'file' && !keys.signingKeyFile) {
      ctx.addIssue({ code: 'custom', path: ['signingKeyFile'], message: 'required when source is file' });
    }
    if ((keys.source === 'redis' || keys.source === 'generated') && keys.signingKeyFile) {
      ctx.addIssue({ code: 'custom', path: ['signingKeyFile'], message: `is ignored when source is ${keys.source}: remove it or use source file` });
    }
  });

export type KeysConfig = z.infer<typeof keysSchema>;
