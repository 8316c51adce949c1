// startWebhookThread on its own: a real worker thread and listener, driven over HTTP. Key changes
// reach the thread, revocation lookups come back to the caller, counts are reported in batches,
// a port it cannot take fails the start (and leaves no thread behind), and close() ends it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import pino from 'pino';
import type { VerificationKey } from '../../src/keys/jwk.js';
import type { ReviewOutcome } from '../../src/kubernetes/token-review.js';
import { startWebhookThread, type WebhookThread } from '../../src/kubernetes/webhook-thread.js';
import { waitFor } from '../harness/ports.js';
import { tokenReview } from '../harness/token-review.js';

const ISSUER = 'https://id.example.com';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY: VerificationKey = { kid: 'k1', alg: 'RS256', key: publicKey };
const logger = pino({ level: 'silent' });

const sign = (claims: Record<string, unknown>) =>
  new SignJWT({ preferred_username: 'alice', groups: ['dev'], grant_id: 'g1', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience('kubernetes')
    .setSubject('sub-1')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);

const data = (port: number, checkRevocation: boolean) => ({
  port,
  host: '127.0.0.1',
  path: '/authenticate',
  issuer: ISSUER,
  mapping: { clientId: 'kubernetes', usernameClaim: 'preferred_username', usernamePrefix: '', groupsClaim: 'groups', groupsPrefix: '' },
  cacheMaxEntries: 100,
  checkRevocation,
  logLevel: 'silent',
  flushIntervalMs: 50,
});

describe('the webhook thread', () => {
  let thread: WebhookThread;
  let keys: VerificationKey[] = [KEY];
  let alive: boolean | Error = true;
  const counts = new Map<ReviewOutcome, number>();

  before(async () => {
    thread = await startWebhookThread({
      data: data(0, true),
      keys: () => keys,
      revocation: {
        isAlive: async () => {
          if (alive instanceof Error) throw alive;
          return alive;
        },
      },
      onReview: (outcome, n) => counts.set(outcome, (counts.get(outcome) ?? 0) + n),
      logger,
    });
  });

  after(async () => {
    await thread?.close(1000);
  });

  it('verifies with the keys it was given, asks the caller about revocation, and reports its counts', async () => {
    const url = `${thread.url}/authenticate`;
    const token = await sign({});
    const ok = await tokenReview(url, token);
    assert.equal(ok.body.status.authenticated, true);
    assert.equal((ok.body.status.user as { username: string }).username, 'alice');
    alive = false;
    assert.equal((await tokenReview(url, token)).body.status.authenticated, false, 'a dead grant is refused');
    alive = new Error('redis down');
    const down = await tokenReview(url, token);
    assert.equal(down.body.status.authenticated, false);
    assert.match(String(down.body.status.error), /revocation store unavailable/);
    alive = true;
    await waitFor('counts reported', async () => (counts.get('authenticated') ?? 0) >= 1 && (counts.get('rejected') ?? 0) >= 1 && (counts.get('error') ?? 0) >= 1, 3000, 20);
    assert.equal(thread.running(), true);
  });

  it('takes key changes at once, even for a token it has cached', async () => {
    const url = `${thread.url}/authenticate`;
    const token = await sign({ preferred_username: 'bob' });
    // Twice: a token is cached from its second sight on.
    assert.equal((await tokenReview(url, token)).body.status.authenticated, true);
    assert.equal((await tokenReview(url, token)).body.status.authenticated, true);
    keys = [];
    thread.setKeys(keys);
    await waitFor('the removed key refused', async () => (await tokenReview(url, token)).body.status.authenticated === false, 3000, 20);
    keys = [KEY];
    thread.setKeys(keys);
    await waitFor('the key back', async () => (await tokenReview(url, token)).body.status.authenticated === true, 3000, 20);
  });

  it('refuses to start on a port it cannot take, and leaves no thread running', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startWebhookThread({ data: data(port, false), keys: () => [KEY], onReview: () => {}, logger }),
        /EADDRINUSE/,
      );
    } finally {
      blocker.close();
    }
  });
});
