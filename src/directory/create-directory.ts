import type { Logger } from 'pino';
import { createNativePool } from '../native/native-pool.js';
import { createNssDirectory } from './nss-directory.js';
import type { Directory } from './types.js';

export interface NssConfig {
  cacheTtlSeconds: number;
  timeoutMs: number;
  threads: number;
}

/** The NSS directory on its own thread pool (separate from PAM's, so slow logins never delay lookups). */
export function createDirectory(config: NssConfig, logger: Logger): Directory {
  const pool = createNativePool({ name: 'nss', threads: config.threads, maxQueue: 1024, timeoutMs: config.timeoutMs });
  logger.debug({ threads: config.threads, cacheTtlSeconds: config.cacheTtlSeconds }, 'NSS directory ready');
  return createNssDirectory({ pool, cacheTtlSeconds: config.cacheTtlSeconds });
}
