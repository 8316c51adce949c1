// TokenReview webhook: cache misses (a different valid token per request) and hits (the same
// token), each against a bare node:http + node:crypto verifier measured in the same run, and the
// p99 latency at half the measured miss saturation rate (open loop).
import { startBaseline } from '../baselines/baseline-process.js';
import type { LoadSpec, RequestTemplate } from '../load-spec.js';
import { measure, type Measurement } from '../measure.js';
import { mintTokens, reviewRequest } from '../prepare.js';
import { measuredColumns, outcomeNotes, redisNote, threadNote, type Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { freePort } from '../../test/harness/ports.js';
import { CLIENT_ID, startStack, type Stack } from '../stack.js';
import { benchUsers } from '../users.js';

/**
 * Twice the verifier's cache (kubernetes.webhook.cacheMaxEntries: 512 in the bench config): going
 * round the pool in order, every token has been evicted by the time it comes back, so every
 * request is a miss that also evicts, as a full cache does in production.
 */
const POOL = 1024;
const AUTHENTICATED = '"authenticated":true';

/** The three unixid measurements of a webhook at `target`: misses, hits, then an open loop at half the miss rate. */
async function measureWebhook(ctx: BenchContext, stack: Stack, target: string, tokens: string[]) {
  const miss = tokens.map((t) => reviewRequest(t));
  const hit = [miss[0]!];
  const opts = { redisPort: stack.redis.port, repeat: ctx.repeat };
  ctx.log(`unixid cache miss (${target})`);
  const missRun = await measure(reviewSpec(ctx, target, miss), stack.watched(), opts);
  ctx.log('unixid cache hit');
  const hitRun = await measure(reviewSpec(ctx, target, hit), stack.watched(), opts);
  // The median of the runs, not the best: half of a lucky moment's rate would be no "half" at all.
  const rates = (missRun.runs ?? [{ opsPerSecond: missRun.load.opsPerSecond }]).map((r) => r.opsPerSecond).sort((a, b) => a - b);
  const half = Math.max(1, Math.round(rates[Math.floor(rates.length / 2)]! / 2));
  ctx.log(`unixid cache miss, open loop at ${half}/s`);
  // The apiserver keeps a few connections open; when they are busy, reviews wait for one (and that wait counts).
  const open = await measure({ ...reviewSpec(ctx, target, miss, { kind: 'open', rate: half, seconds: ctx.seconds, maxInFlight: 512 }), connections: ctx.concurrency }, stack.watched(), {
    redisPort: stack.redis.port,
  });
  return { missRun, hitRun, open, half };
}

function reviewSpec(ctx: BenchContext, target: string, requests: RequestTemplate[], mode: LoadSpec['mode'] = { kind: 'closed', concurrency: ctx.concurrency, seconds: ctx.seconds }): LoadSpec {
  return { target, flow: { kind: 'requests', requests, expectBody: AUTHENTICATED }, mode, warmupSeconds: ctx.warmupSeconds, requestTimeoutMs: 10_000 };
}

export const webhookScenario: Scenario = {
  name: 'webhook',
  title: 'TokenReview webhook (cache miss, cache hit, p99 at half saturation), on the main port and on a port of its own',
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const users = benchUsers(50);
    const stack = await startStack({ backend: 'pam', users, logLevel: ctx.logLevel, env: ctx.serverEnv });
    let bare: Awaited<ReturnType<typeof startBaseline>> | undefined;
    try {
      ctx.log(`minting ${POOL} ID tokens through /token (basic auth)`);
      const minted = await mintTokens(stack.url, users, POOL);
      const jwks = await (await fetch(stack.discovery.jwks_uri)).text();
      bare = await startBaseline('bare-verify.ts', { BENCH_JWKS: jwks, BENCH_ISSUER: stack.discovery.issuer, BENCH_AUDIENCE: CLIENT_ID });
      const miss = minted.tokens.map((t) => reviewRequest(t));
      const bareWatch = [{ name: 'baseline', pid: bare.pid }];
      const again = { repeat: ctx.repeat };
      // Baseline before and after the unixid runs: drift on a shared machine shows as their difference.
      ctx.log('bare-verify baseline (distinct tokens)');
      const bare1 = await measure(reviewSpec(ctx, bare.url, miss), bareWatch, again);
      const main = await measureWebhook(ctx, stack, stack.url, minted.tokens);
      await stack.stop();

      // The same on a port and thread of its own (kubernetes.webhook.port), with tokens of its own
      // (a new server has new keys; the bare verifier's cost does not depend on the key).
      const hookPort = await freePort();
      const own = await startStack({ backend: 'pam', users, logLevel: ctx.logLevel, env: ctx.serverEnv, config: { kubernetes: { webhook: { port: hookPort } } } });
      let thread: Awaited<ReturnType<typeof measureWebhook>>;
      let ownProblems: string[] = [];
      try {
        const ownTokens = await mintTokens(own.url, users, POOL);
        thread = await measureWebhook(ctx, own, `http://127.0.0.1:${hookPort}`, ownTokens.tokens);
        ownProblems = own.problems();
      } finally {
        await own.stop();
      }

      ctx.log('bare-verify baseline (one token)');
      const bare2 = await measure(reviewSpec(ctx, bare.url, [miss[0]!]), bareWatch, again);

      const baseRps = (bare1.load.opsPerSecond + bare2.load.opsPerSecond) / 2;
      const baseCpu = (bare1.cost.baseline!.cpuMsPerOp + bare2.cost.baseline!.cpuMsPerOp) / 2;
      const baseline = `bare-verify ${Math.round(baseRps)}/s`;
      const ratio = (m: Measurement) => m.load.opsPerSecond / baseRps;
      const clean = (m: Measurement) => m.load.errors === 0;
      const rowsOf = (where: string, r: Awaited<ReturnType<typeof measureWebhook>>, problems: () => string[]): Row[] => [
        {
          scenario: `webhook cache miss${where}`,
          kind: 'unixid',
          ...measuredColumns(r.missRun),
          baseline,
          compare: `${ratio(r.missRun).toFixed(2)}×`,
          target: '≥ 0.8×',
          pass: clean(r.missRun) && ratio(r.missRun) >= 0.8,
          notes: [...outcomeNotes(r.missRun, '', problems), redisNote(r.missRun), threadNote(r.missRun)],
          details: r.missRun,
        },
        {
          scenario: `webhook cache hit${where}`,
          kind: 'unixid',
          ...measuredColumns(r.hitRun),
          baseline,
          compare: `${ratio(r.hitRun).toFixed(2)}×`,
          target: '≥ 1.0×',
          pass: clean(r.hitRun) && ratio(r.hitRun) >= 1.0,
          notes: [...outcomeNotes(r.hitRun, '', problems), threadNote(r.hitRun)],
          details: r.hitRun,
        },
        {
          scenario: `webhook miss p99 @ ${r.half}/s (½ sat.)${where}`,
          kind: 'unixid',
          ...measuredColumns(r.open),
          compare: `p99 ${r.open.load.latency.p99} ms`,
          target: '≤ 5 ms',
          pass: clean(r.open) && r.open.load.latency.p99 <= 5,
          notes: [...outcomeNotes(r.open, '', problems), `p90 ${r.open.load.latency.p90} ms, max ${r.open.load.latency.max} ms`],
          details: r.open,
        },
      ];
      return [
        {
          scenario: 'webhook bare-verify baseline',
          kind: 'baseline',
          ...measuredColumns(bare1, 'baseline'),
          rps: Math.round(baseRps),
          cpuMsPerOp: Math.round(baseCpu * 1000) / 1000,
          notes: [`before: ${bare1.load.opsPerSecond}/s, after: ${bare2.load.opsPerSecond}/s`, ...outcomeNotes(bare1), ...outcomeNotes(bare2)],
          details: { before: bare1, after: bare2 },
        },
        ...rowsOf('', main, stack.problems),
        ...rowsOf(' (own thread)', thread, () => ownProblems),
        {
          scenario: 'basic-auth /token (PAM login + sign)',
          kind: 'info',
          rps: minted.result.opsPerSecond,
          p50: minted.result.latency.p50,
          p99: minted.result.latency.p99,
          notes: [`minting the pool: ${minted.result.operations} tokens, 4 connections, no warm-up`],
        },
      ];
    } finally {
      await bare?.stop();
      await stack.stop();
    }
  },
};
