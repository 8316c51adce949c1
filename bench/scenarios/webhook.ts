// TokenReview webhook: cache misses (a different valid token per request) and hits (the same
// token), each run paired with a run of a bare node:http + node:crypto verifier next to it (the
// ratio is the median pair's), and the p99 latency at half the measured miss saturation rate (open loop).
import { startBaseline } from '../baselines/baseline-process.js';
import type { LoadResult, LoadSpec, RequestTemplate } from '../load-spec.js';
import { runLoad } from '../load.js';
import { measure, type Measurement } from '../measure.js';
import { median } from '../median.js';
import { allClean, pairErrorNotes, pairNotes, runPaired, type Paired } from '../paired.js';
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
/**
 * A webhook answers reviews all day, so its figure is the steady state, as the login's is. After
 * the default two seconds V8 is still optimising the review: in eight consecutive 4 s windows on
 * three fresh servers the first cost 92–96 µs of CPU per miss and the later ones 80–91 µs. So each
 * server, unixid and the bare verifier alike, first answers misses this long (or --warmup, if
 * longer), unrecorded, before its runs.
 */
const STEADY_STATE_SECONDS = 8;

/**
 * Where the next run on one server starts in the token pool: each run goes on where the last one
 * stopped, so a token always comes back after the whole pool, never while the verifier's
 * admission filter still remembers it (it remembers as many first sights as the cache holds,
 * half the pool). A run that began at the pool's start again would meet the last run's final
 * tokens still noted: they would be admitted, cached and then hit, and the miss row would
 * measure a mix of misses, admissions and hits that depended on where the last run stopped.
 */
class PoolCursor {
  private at = 0;

  /** `spec` (a requests flow) starting where the last run stopped. */
  from(spec: LoadSpec): LoadSpec {
    if (spec.flow.kind !== 'requests') throw new Error('PoolCursor: only for requests flows');
    return { ...spec, flow: { ...spec.flow, startAt: this.at } };
  }

  /** Record a finished run of the pool. */
  moved(result: LoadResult): void {
    this.at += result.started;
  }
}

/** Where a webhook is measured, and the bare verifier it is compared with. */
interface Target {
  ctx: BenchContext;
  stack: Stack;
  url: string;
  tokens: string[];
  bare: { url: string; pid: number; miss: RequestTemplate[] };
}

/**
 * The measurements of one webhook: misses and hits, each unixid run paired with a bare-verifier
 * run (on distinct tokens and on one token); open loops at half the miss rate, each next to the
 * bare verifier at the same rate; and the bare verifier alone at half its own miss rate.
 */
async function measureWebhook(t: Target) {
  const { ctx, stack } = t;
  const miss = t.tokens.map((tok) => reviewRequest(tok));
  const watchBare = [{ name: 'baseline', pid: t.bare.pid }];
  const opts = { redisPort: stack.redis.port };
  // unixid's pool runs go on from one another (the bare verifier keeps no state between requests).
  const pool = new PoolCursor();
  const onPool = async (spec: LoadSpec): Promise<Measurement> => {
    const m = await measure(pool.from(spec), stack.watched(), opts);
    pool.moved(m.load);
    return m;
  };
  const warm = Math.max(ctx.warmupSeconds, STEADY_STATE_SECONDS);
  ctx.log(`warming up the bare verifier and unixid on misses, ${warm} s each`);
  await warmUp(ctx, reviewSpec(ctx, t.bare.url, t.bare.miss), warm);
  pool.moved(await warmUp(ctx, pool.from(reviewSpec(ctx, t.url, miss)), warm));
  ctx.log(`unixid cache miss (${t.url}), ${ctx.repeat} run(s) each next to a bare-verify run`);
  const missRuns = await runPaired(
    ctx.repeat,
    () => measure(reviewSpec(ctx, t.bare.url, t.bare.miss), watchBare),
    () => onPool(reviewSpec(ctx, t.url, miss)),
  );
  ctx.log('unixid cache hit, each run next to a bare-verify run on one token');
  const hitRuns = await runPaired(
    ctx.repeat,
    () => measure(reviewSpec(ctx, t.bare.url, [t.bare.miss[0]!]), watchBare),
    () => measure(reviewSpec(ctx, t.url, [miss[0]!]), stack.watched(), opts),
  );
  // Half the rate of the miss row's own run (the median pair's), not of the best run: half of a
  // lucky moment's rate would be no "half" at all.
  const half = Math.max(1, Math.round(missRuns.median.unixid.load.opsPerSecond / 2));
  ctx.log(`unixid cache miss, open loop at ${half}/s`);
  // The apiserver keeps a few connections open; when they are busy, reviews wait for one (and that wait counts).
  const openLoop = (url: string, requests: RequestTemplate[], rate = half): LoadSpec => ({ ...reviewSpec(ctx, url, requests, { kind: 'open', rate, seconds: ctx.seconds, maxInFlight: 512 }), connections: ctx.concurrency });
  // The bare verifier at the same rate next to each run: its p99 is the floor the machine and the
  // load generator set (their scheduling on the shared vCPUs), which no server can go below.
  const opens = await runPaired(
    ctx.repeat,
    () => measure(openLoop(t.bare.url, t.bare.miss), watchBare),
    () => onPool(openLoop(t.url, miss)),
  );
  // One 5 s window's p99 is set by its worst 1 %, which a moment of other work on the machine can
  // fill: like the rates, the figure is the median run's (the higher middle one for an even count).
  const open = median(opens.all, (p) => p.unixid.load.latency.p99, 'higher');
  // The same test applied to the runtime's limit: the bare verifier at half of its own miss rate.
  // An open loop costs a server more per request than a closed one (each request wakes it on its
  // own), so half the closed-loop rate already keeps a core about 60 % busy, where this shared
  // machine's latency tail turns up; whether the bare verifier meets 5 ms here shows how much of
  // the target the machine leaves to any server.
  const bareHalf = Math.max(1, Math.round(median(missRuns.all, (p) => p.baseline.load.opsPerSecond, 'lower').baseline.load.opsPerSecond / 2));
  ctx.log(`bare verifier alone, open loop at half its own miss rate: ${bareHalf}/s`);
  const bareOpens: Measurement[] = [];
  for (let i = 0; i < Math.max(1, ctx.repeat); i++) bareOpens.push(await measure(openLoop(t.bare.url, t.bare.miss, bareHalf), watchBare));
  const bareOpen = median(bareOpens, (m) => m.load.latency.p99, 'higher');
  return { missRuns, hitRuns, open, opens, half, bareOpen, bareOpens, bareHalf };
}

type WebhookRuns = Awaited<ReturnType<typeof measureWebhook>>;

function reviewSpec(ctx: BenchContext, target: string, requests: RequestTemplate[], mode: LoadSpec['mode'] = { kind: 'closed', concurrency: ctx.concurrency, seconds: ctx.seconds }): LoadSpec {
  return { target, flow: { kind: 'requests', requests, expectBody: AUTHENTICATED }, mode, warmupSeconds: ctx.warmupSeconds, requestTimeoutMs: 10_000 };
}

/** Load `spec`'s target flat out for `seconds`, recording nothing. */
function warmUp(ctx: BenchContext, spec: LoadSpec, seconds: number): Promise<LoadResult> {
  return runLoad({ ...spec, mode: { kind: 'closed', concurrency: ctx.concurrency, seconds }, warmupSeconds: 0 });
}

const NAMES = { unixid: 'unixid', baseline: 'baseline' };

/** A miss or hit row: the median pair's unixid run, its bare-verify run, their ratio. */
function comparedRow(scenario: string, p: Paired, target: number, problems: () => string[]): Row {
  return {
    scenario,
    kind: 'unixid',
    ...measuredColumns(p.median.unixid),
    baseline: `bare-verify ${Math.round(p.median.baseline.load.opsPerSecond)}/s`,
    compare: `${p.median.ratio.toFixed(2)}×`,
    target: `≥ ${target.toFixed(1)}×`,
    pass: allClean(p) && p.median.ratio >= target,
    notes: [...pairNotes(p, NAMES, problems), ...outcomeNotes(p.median.unixid, '', problems), redisNote(p.median.unixid), threadNote(p.median.unixid)],
    details: p.all,
  };
}

/** The rows of one webhook (`where` names the port): miss, hit, p99, and the bare verifier's own p99. */
function rowsOf(where: string, r: WebhookRuns, problems: () => string[]): Row[] {
  return [
    comparedRow(`webhook cache miss${where}`, r.missRuns, 0.8, problems),
    comparedRow(`webhook cache hit${where}`, r.hitRuns, 1.0, problems),
    {
      scenario: `webhook miss p99 @ ${r.half}/s (½ sat.)${where}`,
      kind: 'unixid',
      ...measuredColumns(r.open.unixid),
      baseline: `bare-verify p99 ${r.open.baseline.load.latency.p99} ms`,
      compare: `p99 ${r.open.unixid.load.latency.p99} ms`,
      target: '≤ 5 ms',
      pass: allClean(r.opens) && r.open.unixid.load.latency.p99 <= 5,
      notes: [
        `half the miss row's ${Math.round(r.missRuns.median.unixid.load.opsPerSecond)}/s; each run next to the bare verifier at the same rate`,
        `median of ${r.opens.all.length} runs by p99, unixid/bare-verify: ${r.opens.all.map((p) => `${p.unixid.load.latency.p99}/${p.baseline.load.latency.p99} ms`).join(', ')}`,
        ...pairErrorNotes(r.opens, problems),
        ...outcomeNotes(r.open.unixid, '', problems),
        `p90 ${r.open.unixid.load.latency.p90} ms, max ${r.open.unixid.load.latency.max} ms (bare-verify: p90 ${r.open.baseline.load.latency.p90} ms, max ${r.open.baseline.load.latency.max} ms)`,
      ],
      details: r.opens.all,
    },
    {
      scenario: `bare-verify miss p99 @ ${r.bareHalf}/s (½ its own sat.)${where}`,
      kind: 'baseline',
      ...measuredColumns(r.bareOpen, 'baseline'),
      notes: [
        `for reading only: the p99 row's test applied to the runtime's limit, the bare verifier at half its own miss rate (${Math.round(2 * r.bareHalf)}/s, the median of its ${r.missRuns.all.length} miss runs)`,
        `median of ${r.bareOpens.length} runs by p99: ${r.bareOpens.map((m) => `${m.load.latency.p99} ms`).join(', ')}`,
        `p90 ${r.bareOpen.load.latency.p90} ms, max ${r.bareOpen.load.latency.max} ms; ${r.bareOpen.cost.baseline?.cpuMsPerOp} ms CPU per review (${r.missRuns.median.baseline.cost.baseline?.cpuMsPerOp} in the closed loop)`,
        ...outcomeNotes(r.bareOpen),
      ],
      details: r.bareOpens,
    },
  ];
}

/** The bare verifier's row: the median of all its runs, for reading only (each ratio uses its own pair's run). */
function baselineRow(runs: WebhookRuns[]): Row {
  const all = runs.flatMap((r) => [r.missRuns, r.hitRuns]).flatMap((p) => p.all.map((x) => x.baseline));
  const middle = median(all, (m) => m.load.opsPerSecond, 'lower');
  return {
    scenario: 'webhook bare-verify baseline',
    kind: 'baseline',
    ...measuredColumns(middle, 'baseline'),
    notes: [
      `the median of its ${all.length} runs, for reading only: each ratio below is against the run paired with unixid's (see its notes)`,
      `all runs: ${all.map((m) => `${Math.round(m.load.opsPerSecond)}/s`).join(', ')}`,
      ...outcomeNotes(middle),
    ],
    details: all,
  };
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
      // The bare verifier answers the first server's tokens throughout: its cost does not depend on the key.
      const bareTarget = { url: bare.url, pid: bare.pid, miss: minted.tokens.map((t) => reviewRequest(t)) };
      const main = await measureWebhook({ ctx, stack, url: stack.url, tokens: minted.tokens, bare: bareTarget });
      await stack.stop();

      // The same on a port and thread of its own (kubernetes.webhook.port), with tokens of its own
      // (a new server has new keys).
      const hookPort = await freePort();
      const own = await startStack({ backend: 'pam', users, logLevel: ctx.logLevel, env: ctx.serverEnv, config: { kubernetes: { webhook: { port: hookPort } } } });
      let thread: WebhookRuns;
      let ownProblems: string[] = [];
      try {
        const ownTokens = await mintTokens(own.url, users, POOL);
        thread = await measureWebhook({ ctx, stack: own, url: `http://127.0.0.1:${hookPort}`, tokens: ownTokens.tokens, bare: bareTarget });
        ownProblems = own.problems();
      } finally {
        await own.stop();
      }

      return [
        baselineRow([main, thread]),
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
