import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { createStore, redactRedisUrl, type Store } from '../store/create-store.js';

/**
 * The shared store for an admin command, once it answers (the client does not queue commands
 * while disconnected, so a command sent too early would fail). Rejects with a readable reason
 * when no Redis is configured or it does not answer within the connect timeout; the reason is
 * the client's last connection error (ECONNREFUSED, a TLS or AUTH refusal) and never holds the
 * password.
 */
export async function connectStore(config: Config): Promise<Store> {
  if (!config.store.redisUrl) throw new Error('no Redis is configured (store.redisUrl): there is no shared state for this command to change');
  const store = createStore(config.store, pino({ level: 'silent' }));
  let lastError: string | undefined;
  // Only the message: an ioredis ReplyError may carry the command it answered.
  const onError = (err: unknown) => {
    lastError = err instanceof Error ? err.message : String(err);
  };
  store.redis?.on('error', onError);
  try {
    const deadline = Date.now() + config.store.connectTimeoutMs;
    for (;;) {
      const ready = await store.ready();
      if (ready.ok) return store;
      if (Date.now() > deadline) {
        await store.close();
        const where = redactRedisUrl(config.store.redisUrl);
        throw new Error(`cannot reach Redis at ${where} within ${config.store.connectTimeoutMs} ms: ${lastError ?? ready.detail ?? 'not ready'}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    store.redis?.off('error', onError);
  }
}
