import { z } from 'zod';

export const keysSchema = z
  .object({
    signingKeyFile: z
      .string()
      .optional()
      .describe('PEM (PKCS#8 RSA/EC private key) or JWK-set file with the signing key(s). Unset: an RSA-2048 key is generated into dataDir (refused in production).'),
    cookieKeys: z
      .array(z.string().min(16))
      .optional()
      .describe('Cookie signing keys, newest first (prepend to rotate). Unset: generated into dataDir (refused in production).'),
  })
  .strict();
