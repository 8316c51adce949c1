import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { createStore, type Store } from '../store/create-store.js';

/**
 * The shared store for an admin command, once it answers (the client does not queue commands
 * while disconnected, so a command sent too early would fail). Rejects with a readable reason
 * when no Redis is configured or it does not answer within the connect timeout.
 */
export async function connectStore(config: Config): Promise<Store> {
  if (!config.store.redisUrl) throw new Error('no Redis is configured (store.redisUrl): there is no shared state for this command to change');
  const store = createStore(config.store, pino({ level: 'silent' }));
  const deadline = Date.now() + config.store.connectTimeoutMs;
  for (;;) {
    const ready = await store.ready();
    if (ready.ok) return store;
    if (Date.now() > deadline) {
      await store.close();
      throw new Error(`cannot reach Redis: ${ready.detail ?? 'not ready'}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
