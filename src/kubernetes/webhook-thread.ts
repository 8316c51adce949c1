import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { VerificationKey } from '../keys/jwk.js';
import type { ListenerTls } from '../server/listen.js';
import { startModuleWorker } from '../server/module-worker.js';
import type { GrantLiveness } from './grant-liveness.js';
import type { ClaimMapping, ReviewOutcome } from './token-review.js';

/** What the webhook thread starts with (structured-cloned: KeyObjects travel as they are). */
export interface WebhookThreadData {
  port: number;
  host: string;
  path: string;
  issuer: string;
  mapping: ClaimMapping & { clientId: string };
  cacheMaxEntries: number;
  checkRevocation: boolean;
  tls?: ListenerTls | undefined;
  keys: readonly VerificationKey[];
  logLevel: string;
  flushIntervalMs: number;
}

export type ToWebhookThread =
  | { type: 'keys'; keys: readonly VerificationKey[] }
  | { type: 'alive'; id: number; alive?: boolean; error?: string }
  | { type: 'close'; graceMs: number };

export type FromWebhookThread =
  | { type: 'listening'; port: number; scheme: 'http' | 'https' }
  | { type: 'failed'; error: string }
  | { type: 'counts'; counts: Partial<Record<ReviewOutcome, number>> }
  | { type: 'isAlive'; id: number; grantId: string; issued?: { sub: string; iat: number } };

export interface WebhookThreadDeps {
  data: Omit<WebhookThreadData, 'keys' | 'flushIntervalMs'> & { flushIntervalMs?: number };
  keys: () => readonly VerificationKey[];
  /** Present when kubernetes.webhook.checkRevocation is on: the thread asks through here. */
  revocation?: GrantLiveness;
  /** Outcomes counted by the thread, `count` at a time. */
  onReview: (outcome: ReviewOutcome, count: number) => void;
  logger: Logger;
}

export interface WebhookThread {
  /** Where it listens (the configured port, or the one the OS chose for 0). */
  readonly url: string;
  /** False while the thread is down (it is restarted after a crash). */
  running(): boolean;
  /** Hand the thread new verification keys (call on every key-ring change). */
  setKeys(keys: readonly VerificationKey[]): void;
  close(graceMs?: number): Promise<void>;
}

/** Restarts back off from this, doubling, to at most MAX_RESTART_DELAY_MS. */
const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Start the TokenReview webhook on a port and thread of its own; resolves once it listens, rejects
 * when it cannot (port taken, bad certificate). A thread that dies later is logged and restarted.
 */
export function startWebhookThread(deps: WebhookThreadDeps): Promise<WebhookThread> {
  const { logger } = deps;
  let worker: Worker | undefined;
  let up = false;
  let closing = false;
  let port = deps.data.port;
  let delay = RESTART_DELAY_MS;

  /** After a crash or a failed restart: try again, later each time, until one listens or we close. */
  const restart = (): void => {
    if (closing) return;
    logger.error(`webhook thread down; restarting in ${delay} ms`);
    setTimeout(() => {
      if (closing) return;
      spawn().then(
        () => (delay = RESTART_DELAY_MS),
        (err: Error) => {
          logger.error({ err: err.message }, 'webhook thread restart failed');
          delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
          restart();
        },
      );
    }, delay).unref();
  };

  const spawn = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const data: WebhookThreadData = { flushIntervalMs: 1000, ...deps.data, port, keys: deps.keys() };
      const w = startModuleWorker(new URL('./webhook-worker', import.meta.url), import.meta.url, { workerData: data });
      worker = w;
      let started = false;
      w.on('message', (m: FromWebhookThread) => {
        switch (m.type) {
          case 'listening': {
            started = true;
            up = true;
            // Restarts take the same port, even when 0 let the OS choose the first time.
            port = m.port;
            const host = deps.data.host.includes(':') ? `[${deps.data.host}]` : deps.data.host;
            const url = `${m.scheme}://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${m.port}`;
            logger.info({ url, path: deps.data.path }, 'TokenReview webhook listening on its own thread');
            resolve(url);
            break;
          }
          case 'failed':
            if (!started) {
              reject(new Error(`webhook port ${deps.data.host}:${port}: ${m.error}`));
              // Not listening, so of no use: end it rather than leave it holding its timers.
              void w.terminate();
            } else logger.error({ err: m.error }, 'webhook thread server error');
            break;
          case 'counts':
            for (const [outcome, n] of Object.entries(m.counts)) deps.onReview(outcome as ReviewOutcome, n ?? 0);
            break;
          case 'isAlive': {
            const answer = (reply: ToWebhookThread) => w.postMessage(reply);
            if (!deps.revocation) {
              answer({ type: 'alive', id: m.id, error: 'revocation checking is off' });
              break;
            }
            deps.revocation.isAlive(m.grantId, m.issued).then(
              (alive) => answer({ type: 'alive', id: m.id, alive }),
              (err: Error) => answer({ type: 'alive', id: m.id, error: err?.message ?? String(err) }),
            );
            break;
          }
        }
      });
      w.on('error', (err) => {
        logger.error({ err: err.message }, 'webhook thread failed');
        if (!started) reject(err);
      });
      w.on('exit', (code) => {
        if (worker === w) {
          worker = undefined;
          up = false;
        }
        if (!started) {
          reject(new Error(`webhook thread exited (${code}) before listening`));
          return;
        }
        logger.error({ code }, 'webhook thread stopped');
        restart();
      });
    });

  return spawn().then((url) => ({
    url,
    running: () => up,
    setKeys(keys) {
      worker?.postMessage({ type: 'keys', keys } satisfies ToWebhookThread);
    },
    async close(graceMs = 5000) {
      closing = true;
      const w = worker;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage({ type: 'close', graceMs } satisfies ToWebhookThread);
      const timer = setTimeout(() => void w.terminate(), graceMs + 1000);
      await exited;
      clearTimeout(timer);
    },
  }));
}
