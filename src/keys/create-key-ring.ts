import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { KeysConfig } from '../config/sections/keys.js';
import type { Config } from '../config/schema.js';
import type { AuditLog } from '../observability/audit.js';
import type { PrivateJwk } from './jwk.js';
import { createFileKeyRing } from './file-key-ring.js';
import { publishAfterRetire, type KeyRing, type KeyTimings } from './key-ring.js';
import { createRedisKeyRing } from './redis-key-ring.js';
import { createGeneratedKeyRing } from './static-key-ring.js';

export type KeySource = 'file' | 'redis' | 'generated';

export interface KeyRingConfig {
  keys: KeysConfig;
  store: { redisUrl?: string | undefined };
  dataDir: string;
  tokens: {
    idTokenSeconds: number;
    /** Longest lifetime of any other JWT signed with these keys (the basic-auth token endpoint's maxSeconds when it is enabled). */
    longestSignedSeconds?: number | undefined;
  };
}

export interface KeyRingDeps {
  /** The store's client; required for the redis source. */
  redis?: Redis | undefined;
  keyPrefix: string;
  logger: Logger;
  production: boolean;
  /** Millisecond clock (Date.now). */
  now?: () => number;
  audit?: Pick<AuditLog, 'event'>;
  /** file source: how often the file is re-read. Default 5000. */
  filePollMs?: number;
  /** redis source: how long start-up waits for Redis and a first key. Default 60000. */
  startupTimeoutMs?: number;
  /** redis source: key generation (tests). Default RSA-2048 RS256. */
  generate?: () => Promise<PrivateJwk>;
}

/** The ring's view of the whole config: lifetimes include basic-auth tokens when that endpoint is on. Never throws. */
export function keyRingConfig(config: Config): KeyRingConfig {
  const basic = config.kubernetes.basicAuthToken;
  return {
    keys: config.keys,
    store: config.store,
    dataDir: config.dataDir,
    tokens: { idTokenSeconds: config.tokens.idTokenSeconds, longestSignedSeconds: basic.enabled ? basic.maxSeconds : undefined },
  };
}

/** Which source `auto` means: file if signingKeyFile, else redis if store.redisUrl, else generated. Never throws. */
export function resolveKeySource(keys: Pick<KeysConfig, 'source' | 'signingKeyFile'>, store: { redisUrl?: string | undefined }): KeySource {
  if (keys.source !== 'auto') return keys.source;
  if (keys.signingKeyFile) return 'file';
  return store.redisUrl ? 'redis' : 'generated';
}

/** The rotation schedule from config (the publish window covers the longest signed token plus retainSeconds). Never throws. */
export function keyTimings(config: Pick<KeyRingConfig, 'keys' | 'tokens'>): KeyTimings {
  return {
    rotationSeconds: config.keys.rotationSeconds,
    prepublishSeconds: config.keys.prepublishSeconds,
    publishAfterRetireSeconds: publishAfterRetire(config.tokens, config.keys.retainSeconds),
  };
}

/**
 * The key ring the configured source gives. Rejects when the key file is unreadable or holds no
 * usable key, when the redis source has no Redis client or finds no usable key within
 * startupTimeoutMs, and when the generated source is used in production.
 */
export async function createKeyRing(config: KeyRingConfig, deps: KeyRingDeps): Promise<KeyRing> {
  const source = resolveKeySource(config.keys, config.store);
  switch (source) {
    case 'file': {
      const file = config.keys.signingKeyFile;
      if (!file) throw new Error('keys.source is file but keys.signingKeyFile is not set');
      return createFileKeyRing({
        file,
        logger: deps.logger,
        ...(deps.filePollMs ? { pollMs: deps.filePollMs } : {}),
        ...(deps.audit ? { audit: deps.audit } : {}),
      });
    }
    case 'redis': {
      if (!deps.redis) throw new Error('keys.source is redis but no Redis is configured (store.redisUrl)');
      return createRedisKeyRing({
        redis: deps.redis,
        keyPrefix: deps.keyPrefix,
        timings: keyTimings(config),
        pollSeconds: config.keys.pollSeconds,
        logger: deps.logger,
        ...(deps.now ? { now: deps.now } : {}),
        ...(deps.generate ? { generate: deps.generate } : {}),
        ...(deps.startupTimeoutMs ? { startupTimeoutMs: deps.startupTimeoutMs } : {}),
        ...(deps.audit ? { audit: deps.audit } : {}),
      });
    }
    case 'generated':
      if (deps.production) {
        throw new Error('refusing generated signing keys in production: set keys.signingKeyFile (a mounted Secret) or store.redisUrl (automatic rotation)');
      }
      // insecureDefaults() warns loudly about this at start-up; this line says where the key is.
      deps.logger.info({ dataDir: config.dataDir }, 'signing with a key generated into dataDir (no key file, no Redis)');
      return createGeneratedKeyRing(config.dataDir, true, deps.logger);
  }
}
