// The TokenReview webhook's own thread (kubernetes.webhook.port): its own event loop, HTTP(S)
// listener and verifier cache, so that whatever keeps the main thread busy (a storm of logins,
// page renders, a slow Redis) never sits between kube-apiserver and an answer. The main thread
// sends the verification keys (and their changes) and answers revocation lookups; this thread
// sends back the outcome counts for /metrics.
import { parentPort, workerData } from 'node:worker_threads';
import type { VerificationKey } from '../keys/jwk.js';
import { createLogger } from '../logging/logger.js';
import { createListener } from '../server/listen.js';
import { sendBody } from '../web/send-body.js';
import type { GrantLiveness } from './grant-liveness.js';
import { createReviewVerifier, createTokenReviewer, type ReviewOutcome } from './token-review.js';
import { tokenReviewFastPath } from './token-review-http.js';
import type { FromWebhookThread, ToWebhookThread, WebhookThreadData } from './webhook-thread.js';

const port = parentPort;
if (!port) throw new Error('webhook-worker must run in a worker thread');
const data = workerData as WebhookThreadData;
const post = (m: FromWebhookThread) => port.postMessage(m);

const logger = createLogger({ level: data.logLevel }).child({ thread: 'webhook' });
let keys: readonly VerificationKey[] = data.keys;
const verifier = createReviewVerifier({
  issuer: data.issuer,
  clientId: data.mapping.clientId,
  mapping: data.mapping,
  keys: () => keys,
  cacheMaxEntries: data.cacheMaxEntries,
});

// Revocation lookups go to the main thread, which owns the store connection.
const lookups = new Map<number, { resolve: (alive: boolean) => void; reject: (err: Error) => void }>();
let nextLookup = 1;
// A lookup the main thread does not answer in time is dropped here (the reviewer's own deadline
// has answered the apiserver by then), so a stalled main thread cannot grow this map.
const LOOKUP_TIMEOUT_MS = 5000;
const revocation: GrantLiveness = {
  isAlive(grantId, issued) {
    return new Promise((resolve, reject) => {
      const id = nextLookup++;
      const timer = setTimeout(() => {
        lookups.delete(id);
        reject(new Error('no answer from the main thread'));
      }, LOOKUP_TIMEOUT_MS);
      lookups.set(id, {
        resolve: (alive) => {
          clearTimeout(timer);
          resolve(alive);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      post({ type: 'isAlive', id, grantId, ...(issued ? { issued } : {}) });
    });
  },
};

const counts: Partial<Record<ReviewOutcome, number>> = {};
const count = (outcome: ReviewOutcome) => {
  counts[outcome] = (counts[outcome] ?? 0) + 1;
};
// Batched: a message per review would put work back on the main thread's loop.
const flush = () => {
  if (Object.keys(counts).length === 0) return;
  post({ type: 'counts', counts: { ...counts } });
  for (const k of Object.keys(counts)) delete counts[k as ReviewOutcome];
};
const flushTimer = setInterval(flush, data.flushIntervalMs);

const fast = tokenReviewFastPath({
  path: data.path,
  review: createTokenReviewer({ verifier, mapping: data.mapping, ...(data.checkRevocation ? { revocation } : {}), logger, onReview: count }),
  requireClientCert: Boolean(data.tls?.clientCaFile),
  onMalformed: () => count('malformed'),
});
const listener = createListener({ logger, tls: data.tls }, (req, res) => {
  if (fast(req, res)) return;
  const body = JSON.stringify({ error: `not found: this port serves only the TokenReview webhook at ${data.path}` });
  sendBody(res, 404, 'application/json; charset=utf-8', body, { 'X-Content-Type-Options': 'nosniff' });
});
const { server } = listener;
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 60_000;

port.on('message', (m: ToWebhookThread) => {
  switch (m.type) {
    case 'keys':
      keys = m.keys;
      break;
    case 'alive': {
      const lookup = lookups.get(m.id);
      lookups.delete(m.id);
      if (!lookup) break;
      if (m.error !== undefined) lookup.reject(new Error(m.error));
      else lookup.resolve(m.alive === true);
      break;
    }
    case 'close':
      server.close(() => {
        clearInterval(flushTimer);
        flush();
        listener.close();
        logger.flush();
        port.close();
      });
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), m.graceMs).unref();
      break;
  }
});

server.once('error', (err) => post({ type: 'failed', error: err.message }));
server.listen(data.port, data.host, () => {
  const address = server.address();
  post({ type: 'listening', port: typeof address === 'object' && address ? address.port : data.port, scheme: listener.scheme });
});
