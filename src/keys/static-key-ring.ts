import type { Logger } from 'pino';
import type { PrivateJwk } from './jwk.js';
import { keySetOf, staticStates, type KeyRing } from './key-ring.js';
import { loadGeneratedSigningKeys } from './load-keys.js';

/** A ring over fixed keys: the first signs, all are published, and it never changes. Throws when `jwks` is empty or unusable. */
export function createStaticKeyRing(jwks: readonly PrivateJwk[]): KeyRing {
  const set = keySetOf(staticStates(jwks));
  return {
    current: () => set,
    // Nothing ever changes, so a listener is never called.
    onChange: () => {},
    refresh: async () => set,
    close: async () => {},
  };
}

/**
 * The development ring: the RSA key generated once into dataDir (mode 0600) and reused on later
 * starts. Rejects when the key file is unusable, or has to be generated and `allowGenerate` is
 * false (production must use a key file or Redis).
 */
export async function createGeneratedKeyRing(dataDir: string, allowGenerate: boolean, logger: Logger): Promise<KeyRing> {
  return createStaticKeyRing(await loadGeneratedSigningKeys(dataDir, allowGenerate, logger));
}
