import { resolveKeySource } from '../keys/create-key-ring.js';
import type { Config } from './schema.js';

/** Facts about the running deployment that decide which insecure defaults are tolerated. */
export interface Deployment {
  production: boolean;
}

/**
 * Problems that make a configuration unfit for production, and warnings for development.
 * In production every item is fatal; in development they are logged loudly at start-up.
 */
export function insecureDefaults(config: Config): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (!config.store.redisUrl) {
    out.push({ path: 'store.redisUrl', message: 'no Redis configured: sessions, grants and refresh tokens live in memory and are lost on restart' });
  }
  if (resolveKeySource(config.keys, config.store) === 'generated') {
    out.push({ path: 'keys.signingKeyFile', message: `no signing key file and no Redis to rotate keys in: using a key generated into ${config.dataDir}` });
  }
  if (!config.keys.cookieKeys) {
    out.push({ path: 'keys.cookieKeys', message: `no cookie keys configured: using keys generated into ${config.dataDir}` });
  }
  const issuer = new URL(config.issuer);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
  if (issuer.protocol !== 'https:' && !loopback) {
    out.push({ path: 'issuer', message: 'the issuer is not https: kube-apiserver refuses it and cookies cannot be Secure' });
  }
  return out;
}
