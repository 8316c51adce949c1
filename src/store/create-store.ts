import { Redis, type RedisOptions } from 'ioredis';
import type { Adapter } from 'oidc-provider';
import type { Logger } from 'pino';
import { createMemoryAdapterClass } from './memory-adapter.js';
import { createRedisAdapterClass } from './redis-adapter.js';
import { withDeadline } from '../deadline.js';

export interface StoreConfig {
  /** redis://, rediss://, or redis+sentinel:// / rediss+sentinel:// (see parseRedisUrl). Unset: memory. */
  redisUrl?: string;
  keyPrefix: string;
  connectTimeoutMs: number;
}

export interface Store {
  kind: 'redis' | 'memory';
  /** oidc-provider adapter class. */
  Adapter: new (name: string) => Adapter;
  /** The ioredis client when kind === 'redis', for other Redis users (throttling, revocation). */
  redis?: Redis;
  /** For /readyz: PING with a short timeout; memory is always ok. Never rejects. */
  ready(): Promise<{ ok: boolean; detail?: string }>;
  /** Disconnect; stops reconnecting. Never rejects. */
  close(): Promise<void>;
}

/** Where to connect, and how to name it in logs (the password replaced). */
export interface RedisTarget {
  /** A redis:// or rediss:// URL that ioredis parses itself (query options included). */
  url?: string;
  /** Options for a Sentinel-managed master. */
  sentinel?: RedisOptions;
  display: string;
}

const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?(?:\?([^#]*))?$/;

/**
 * Parses a store URL. Besides redis://[user:pass@]host:port[/db] and rediss://, accepts
 * `redis+sentinel://[user:pass@]host1:26379,host2:26379/<master>[/<db>][?sentinelUsername=&sentinelPassword=]`
 * (`rediss+sentinel://` for TLS to sentinels and servers; the credentials are the Redis servers').
 * Throws a TypeError whose message never contains a password.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const display = redactRedisUrl(url);
  if (/^rediss?:\/\//i.test(url)) return { url, display };
  const m = SENTINEL_URL.exec(url);
  if (!m) {
    throw new TypeError(`unsupported Redis URL ${display}: expected redis://, rediss://, redis+sentinel:// or rediss+sentinel://`);
  }
  const [, scheme, auth, hostList = '', name = '', db, query] = m;
  const sentinels = hostList.split(',').map((hostPort) => {
    const hp = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort.trim());
    if (!hp?.[1]) throw new TypeError(`bad sentinel address "${hostPort}" in ${display}`);
    return { host: hp[1].replace(/^\[|\]$/g, ''), port: hp[2] ? Number(hp[2]) : 26379 };
  });
  const options: RedisOptions = { sentinels, name: decodeURIComponent(name) };
  if (auth) {
    const colon = auth.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
    if (user) options.username = user;
    if (colon >= 0) options.password = decodeURIComponent(auth.slice(colon + 1));
  }
  if (db) options.db = Number(db);
  const params = new URLSearchParams(query ?? '');
  const sentinelUsername = params.get('sentinelUsername');
  const sentinelPassword = params.get('sentinelPassword');
  if (sentinelUsername) options.sentinelUsername = sentinelUsername;
  if (sentinelPassword) options.sentinelPassword = sentinelPassword;
  if (scheme === 'rediss') {
    options.tls = {};
    options.sentinelTLS = {};
    options.enableTLSForSentinelMode = true;
  }
  return { sentinel: options, display };
}

/** The URL with its password and any *password* query value replaced by ***, for logs. Never throws. */
export function redactRedisUrl(url: string): string {
  return url
    .replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_all, scheme: string, auth: string) => {
      const colon = auth.indexOf(':');
      return `${scheme}${colon < 0 ? auth : `${auth.slice(0, colon)}:***`}@`;
    })
    .replace(/([?&][^=&#]*password[^=&#]*=)[^&#]*/gi, '$1***');
}

/**
 * Builds the store from config: in memory without a URL, else an ioredis client that connects in
 * the background. Throws only on an unparseable URL. A Redis that is down (at start or later) makes
 * adapter calls reject quickly (no offline queue; commands time out after connectTimeoutMs) while
 * the client reconnects forever with capped backoff; each outage is logged once, never thrown.
 */
export function createStore(config: StoreConfig, logger: Logger): Store {
  if (!config.redisUrl) {
    return {
      kind: 'memory',
      Adapter: createMemoryAdapterClass(),
      ready: async () => ({ ok: true }),
      close: async () => {},
    };
  }

  const target = parseRedisUrl(config.redisUrl);
  const log = logger.child({ redis: target.display });
  const options: RedisOptions = {
    lazyConnect: false,
    connectTimeout: config.connectTimeoutMs,
    // Without this, a command that reached Redis just before it went silent would wait for TCP.
    commandTimeout: config.connectTimeoutMs,
    // Fail now rather than queue while disconnected: a login should get an error page quickly, and
    // a queued write the caller already gave up on must not land later.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Never give up: the process recovers by itself when Redis is back.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    sentinelRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    // After a failover the old master answers READONLY: reconnect, and Sentinel names the new one.
    // (The failed command is not resent: with no offline queue it fails like any other.)
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    connectionName: 'unixid',
  };
  const redis = target.url ? new Redis(target.url, options) : new Redis({ ...target.sentinel, ...options });
  const connection = watchConnection(redis, log);

  return {
    kind: 'redis',
    Adapter: createRedisAdapterClass(redis, config.keyPrefix),
    redis,
    async ready() {
      try {
        const reply = await withDeadline(redis.ping(), Math.min(config.connectTimeoutMs, 2000), 'PING');
        return reply === 'PONG' ? { ok: true } : { ok: false, detail: 'unexpected PING reply' };
      } catch (err) {
        return { ok: false, detail: `redis ${redis.status}: ${errorMessage(err)}` };
      }
    },
    async close() {
      connection.closing = true;
      try {
        if (redis.status === 'ready') await withDeadline(redis.quit(), 1000, 'QUIT');
      } catch {
        // disconnect below
      }
      redis.disconnect();
    },
  };
}

/** Logs connection changes once per outage, not once per reconnect attempt. */
function watchConnection(redis: Redis, log: Logger): { closing: boolean } {
  const state = { closing: false };
  let connected = false;
  let ever = false;
  let downSince: number | undefined;
  let errorLogged = false;

  redis.on('ready', () => {
    if (downSince !== undefined) log.info({ downMs: Date.now() - downSince }, 'redis connection restored');
    else if (!ever) log.info('redis connected');
    connected = ever = true;
    downSince = undefined;
    errorLogged = false;
  });
  redis.on('close', () => {
    if (state.closing || !connected) return;
    connected = false;
    downSince = Date.now();
    log.warn('redis connection lost; reconnecting in the background');
  });
  // Without an 'error' listener an unreachable Redis would crash the process.
  redis.on('error', (err: unknown) => {
    downSince ??= Date.now();
    // Only the message and code: an ioredis ReplyError carries the command, and AUTH's has the password.
    const detail = { error: errorMessage(err), code: (err as { code?: unknown })?.code };
    if (errorLogged) {
      log.debug(detail, 'redis still unreachable');
      return;
    }
    errorLogged = true;
    log.error(detail, 'redis unreachable; requests that need it fail until it is back (retrying in the background)');
  });
  return state;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
