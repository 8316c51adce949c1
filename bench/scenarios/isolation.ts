// Isolation (issue 6, part 2): the TokenReview webhook's p99 at a steady rate, alone (before and
// after) and during a storm of wrong-password logins through the login form. Two storms: with pam_unix's failure delay
// (PAM threads sit in the delay: the event loop must not care), and without any delay (every
// failure is CPU the storm takes from the same process). Each with the webhook on the main port
// (the default: one event loop for everything) and on a port of its own (kubernetes.webhook.port:
// a thread with its own event loop). Target: p99 during ≤ 2× p99 alone.
import { runLoad } from '../load.js';
import type { LoadResult, LoadSpec } from '../load-spec.js';
import { measure, type Measurement } from '../measure.js';
import { loginFlowSpec, mintTokens, reviewRequest } from '../prepare.js';
import { measuredColumns, outcomeNotes, type Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { freePort } from '../../test/harness/ports.js';
import { startStack } from '../stack.js';
import { benchUsers } from '../users.js';

/** A steady apiserver's worth of cache misses (the apiserver caches answers, so misses are what reaches us). */
const WEBHOOK_RATE = 200;
const POOL = 1024;

interface Storm {
  name: string;
  failDelayMs: number;
  concurrency: number;
  /** The attacker gives up on a request after this long (and sends the next). */
  timeoutMs: number;
}

const STORMS: Storm[] = [
  { name: 'PAM failure delay 2 s', failDelayMs: 2000, concurrency: 32, timeoutMs: 5000 },
  { name: 'no failure delay', failDelayMs: 0, concurrency: 8, timeoutMs: 5000 },
];

/**
 * Webhook p99 alone, then during `storm`, on a fresh server whose PAM fails after
 * `storm.failDelayMs`; the webhook on the main port, or (`ownThread`) on a port and thread of its own.
 */
async function stormRows(ctx: BenchContext, storm: Storm, ownThread: boolean): Promise<Row[]> {
  const users = benchUsers(20);
  const hookPort = ownThread ? await freePort() : undefined;
  const stack = await startStack({
    backend: 'pam',
    users,
    pamFailDelayMs: storm.failDelayMs,
    logLevel: ctx.logLevel,
    env: ctx.serverEnv,
    ...(hookPort ? { config: { kubernetes: { webhook: { port: hookPort } } } } : {}),
  });
  const where = ownThread ? 'own thread' : 'main port';
  try {
    ctx.log(`${storm.name}, webhook on the ${where}: minting ${POOL} ID tokens`);
    const { tokens } = await mintTokens(stack.url, users, POOL);
    const webhook: LoadSpec = {
      target: hookPort ? `http://127.0.0.1:${hookPort}` : stack.url,
      flow: { kind: 'requests', requests: tokens.map((t) => reviewRequest(t)), expectBody: '"authenticated":true' },
      // At least 2,000 reviews per window: a p99 of fewer is a handful of samples.
      mode: { kind: 'open', rate: WEBHOOK_RATE, seconds: Math.max(ctx.seconds, 10), maxInFlight: 512 },
      warmupSeconds: ctx.warmupSeconds,
      requestTimeoutMs: 10_000,
      // A fixed set of keep-alive connections, as kube-apiserver keeps: a slow answer makes the next review wait.
      connections: ctx.concurrency,
    };
    const wrong = users.map((u) => ({ username: u.name, password: `${u.password}-wrong` }));
    const stormSpec = (seconds: number): LoadSpec => ({
      target: stack.url,
      // 401 wrong password; 429 if a throttle still bans; 503 when PAM's queue is full.
      flow: loginFlowSpec(stack.discovery, wrong, 'refused', [401, 429, 503]),
      mode: { kind: 'closed', concurrency: storm.concurrency, seconds },
      warmupSeconds: 0,
      requestTimeoutMs: storm.timeoutMs,
    });
    // A short storm first, unmeasured: the login path's code is compiled before "alone" is taken.
    ctx.log(`${storm.name}: warming the login path`);
    await runLoad({ ...stormSpec(Math.max(1, ctx.warmupSeconds)), mode: { kind: 'closed', concurrency: 2, seconds: Math.max(1, ctx.warmupSeconds) } });
    // And the webhook's, flat out: 200/s for a warm-up second or two would leave it half-compiled.
    await runLoad({ ...webhook, mode: { kind: 'closed', concurrency: 8, seconds: Math.max(1, ctx.warmupSeconds) }, warmupSeconds: 0 });
    ctx.log(`${storm.name}: webhook alone`);
    const alone1 = await measure(webhook, stack.watched(), { redisPort: stack.redis.port });
    ctx.log(`${storm.name}: storm (${storm.concurrency} attackers), webhook during it`);
    const stormRun: Promise<LoadResult> = runLoad(stormSpec(ctx.warmupSeconds + ctx.seconds + 3));
    // Let the storm fill the PAM threads and queue before the webhook is measured.
    await new Promise((r) => setTimeout(r, 1500));
    let during: Measurement;
    try {
      during = await measure(webhook, stack.watched(), { redisPort: stack.redis.port });
    } finally {
      await stormRun.catch(() => undefined);
    }
    const stormResult = await stormRun;
    // Alone again after the storm (PAM may still be working off its queue: threads asleep in the
    // delay, which is the point). The comparison is with the better of the two: a spike from other
    // work on the machine must not make the storm look harmless.
    ctx.log(`${storm.name}: webhook alone again`);
    const alone2 = await measure(webhook, stack.watched(), { redisPort: stack.redis.port });
    const aloneP99 = Math.min(alone1.load.latency.p99, alone2.load.latency.p99);
    const ratio = during.load.latency.p99 / aloneP99;
    const mix = Object.entries(stormResult.outcomes)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    return [
      {
        scenario: `webhook (${where}) @ ${WEBHOOK_RATE}/s alone`,
        kind: 'baseline',
        ...measuredColumns(alone1),
        p99: aloneP99,
        notes: [
          `p99 before the storm ${alone1.load.latency.p99} ms, after it ${alone2.load.latency.p99} ms (the column shows the lower)`,
          ...outcomeNotes(alone1, 'before: ', stack.problems),
          ...outcomeNotes(alone2, 'after: ', stack.problems),
        ],
        details: { before: alone1, after: alone2 },
      },
      {
        scenario: `webhook (${where}) during storm: ${storm.name}`,
        kind: 'unixid',
        ...measuredColumns(during),
        // The storm's CPU lands in the same process: a per-review figure would be meaningless.
        cpuMsPerOp: undefined,
        baseline: `alone p99 ${aloneP99} ms`,
        compare: `${ratio.toFixed(2)}× alone`,
        target: '≤ 2× alone',
        pass: during.load.errors === 0 && alone1.load.errors === 0 && alone2.load.errors === 0 && ratio <= 2,
        notes: [
          ...outcomeNotes(during, '', stack.problems),
          `p90 ${during.load.latency.p90} ms, max ${during.load.latency.max} ms`,
          `storm: ${stormResult.opsPerSecond} failed logins/s (${mix}), p50 ${stormResult.latency.p50} ms; unixid busy ${during.cost.unixid!.cores} cores`,
        ],
        details: { during, storm: stormResult },
      },
    ];
  } finally {
    await stack.stop();
  }
}

export const isolationScenario: Scenario = {
  name: 'isolation',
  title: `Webhook p99 at ${WEBHOOK_RATE}/s alone and during wrong-password login storms`,
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const rows: Row[] = [];
    // pam_wrapper copies the PAM service at start-up, so each storm gets a server of its own.
    for (const storm of STORMS) for (const ownThread of [false, true]) rows.push(...(await stormRows(ctx, storm, ownThread)));
    return rows;
  },
};
