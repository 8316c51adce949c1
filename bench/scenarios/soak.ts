// Soak (issue 6, part 8): logins, refreshes and token reviews in a loop for --minutes (default 10),
// with every lifetime scaled down so that state expires several times within the run. RSS and the
// Redis key count are sampled throughout; they pass when the second half of the run is flat (what
// TTLs expire balances what the loop creates) and no key lacks a TTL.
import { runLoad } from '../load.js';
import type { LoadResult } from '../load-spec.js';
import { keysWithoutTtl } from '../redis-footprint.js';
import type { Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { redisMemory, sampleProc } from '../server-stats.js';
import { CLIENT_ID, pathOf, REDIRECT_URI, startStack } from '../stack.js';
import { benchUsers, credentialsOf } from '../users.js';

/** Growth over the second half, as a share of its mean, still counted as flat (GC and TTL jitter). */
const FLAT_SHARE = 0.1;
/** Keys that are meant to have no TTL. */
const PERSISTENT_KEYS = ['unixid:keys:ring'];

interface Sample {
  t: number;
  rssMb: number;
  dbsize: number;
  usedMemoryMb: number;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

/** Slope per minute over the second half, and whether the growth it implies over that half stays within FLAT_SHARE of the mean (shrinking is flat enough). */
function flatness(samples: Sample[], pick: (s: Sample) => number): { perMinute: number; mean: number; flat: boolean } {
  const half = samples.slice(Math.floor(samples.length / 2));
  const pts = half.map((s) => ({ x: s.t / 60, y: pick(s) }));
  const perMinute = slope(pts);
  const mean = pts.reduce((s, p) => s + p.y, 0) / Math.max(1, pts.length);
  const span = pts.length > 1 ? pts[pts.length - 1]!.x - pts[0]!.x : 0;
  return { perMinute, mean, flat: perMinute * span <= FLAT_SHARE * mean };
}

export const soakScenario: Scenario = {
  name: 'soak',
  title: 'Soak: logins, refreshes and token reviews in a loop; RSS and Redis keys must stay flat',
  byDefault: false,
  async run(ctx: BenchContext): Promise<Row[]> {
    const totalSeconds = Math.round(ctx.minutes * 60);
    // Lifetimes an eighth of the run (at least 15 s): sessions and chains die and are replaced many times.
    const ttl = Math.max(15, Math.round(totalSeconds / 8));
    const every = Math.min(30, Math.max(5, Math.round(totalSeconds / 16)));
    const users = benchUsers(100);
    const stack = await startStack({
      backend: 'pam',
      users,
      logLevel: ctx.logLevel,
      env: ctx.serverEnv,
      config: {
        tokens: {
          idTokenSeconds: ttl,
          accessTokenSeconds: ttl,
          refreshTokenSeconds: ttl,
          sessionSeconds: ttl,
          interactionSeconds: ttl,
          authorizationCodeSeconds: Math.min(60, ttl),
          deviceCodeSeconds: ttl,
        },
      },
    });
    try {
      ctx.log(`${ctx.minutes} min, lifetimes ${ttl} s, a sample every ${every} s`);
      const samples: Sample[] = [];
      const t0 = performance.now();
      const sample = async () => {
        const p = sampleProc(stack.pid);
        const r = await redisMemory(stack.redis.port);
        const s = { t: Math.round((performance.now() - t0) / 1000), rssMb: Math.round(p.rssKb / 102.4) / 10, dbsize: r.dbsize, usedMemoryMb: Math.round(r.usedMemory / 104857.6) / 10 };
        samples.push(s);
        ctx.log(`t=${s.t}s RSS ${s.rssMb} MB, DBSIZE ${s.dbsize}, used_memory ${s.usedMemoryMb} MB`);
      };
      await sample();
      const timer = setInterval(() => void sample().catch((err: Error) => ctx.log(`sample failed: ${err.message}`)), every * 1000);
      let result: LoadResult;
      try {
        result = await runLoad({
          target: stack.url,
          flow: {
            kind: 'soak',
            authorizePath: pathOf(stack.discovery.authorization_endpoint),
            tokenPath: pathOf(stack.discovery.token_endpoint),
            clientId: CLIENT_ID,
            redirectUri: REDIRECT_URI,
            users: credentialsOf(users),
            refreshesPerLogin: 5,
            webhookPath: '/authenticate',
          },
          // Paced, not flat out: a soak looks for growth, not for the saturation point.
          mode: { kind: 'closed', concurrency: 4, seconds: totalSeconds, thinkMs: 20 },
          warmupSeconds: 0,
          requestTimeoutMs: 15_000,
        });
      } finally {
        clearInterval(timer);
      }
      await sample();
      // The signing-key ring is meant to live until its keys are retired; everything else must expire.
      const noTtl = (await keysWithoutTtl(stack.redis.port, 'unixid:')).filter((k) => !PERSISTENT_KEYS.includes(k));
      const rss = flatness(samples, (s) => s.rssMb);
      const keys = flatness(samples, (s) => s.dbsize);
      const steps = Object.entries(result.steps)
        .map(([k, v]) => `${k} ${v.count} (p99 ${v.p99} ms)`)
        .join(', ');
      // Refreshes that meet an expired chain are expected with lifetimes this short; anything else is an error.
      const unexpected = Object.entries(result.outcomes).filter(([k]) => !['login', 'refresh', 'review', '400'].includes(k));
      const unexpectedCount = unexpected.reduce((n, [, v]) => n + v, 0);
      return [
        {
          scenario: `soak ${ctx.minutes} min: RSS`,
          kind: 'unixid',
          rps: result.opsPerSecond,
          p50: result.latency.p50,
          p99: result.latency.p99,
          peakRssMb: Math.max(...samples.map((s) => s.rssMb)),
          compare: `${rss.perMinute >= 0 ? '+' : ''}${rss.perMinute.toFixed(2)} MB/min`,
          target: 'flat (2nd half)',
          pass: rss.flat && unexpectedCount === 0,
          notes: [`${result.operations} steps: ${steps}`, `outcomes: ${JSON.stringify(result.outcomes)}`, `RSS samples (MB): ${samples.map((s) => s.rssMb).join(' ')}`],
          details: { samples, result, ttl },
        },
        {
          scenario: `soak ${ctx.minutes} min: Redis keys`,
          kind: 'unixid',
          compare: `${keys.perMinute >= 0 ? '+' : ''}${keys.perMinute.toFixed(0)} keys/min`,
          target: 'flat, all with TTL',
          pass: keys.flat && noTtl.length === 0,
          notes: [`DBSIZE samples: ${samples.map((s) => s.dbsize).join(' ')}`, `used_memory MB: ${samples.map((s) => s.usedMemoryMb).join(' ')}`, `keys without a TTL (besides ${PERSISTENT_KEYS.join(', ')}): ${noTtl.length === 0 ? 'none' : noTtl.join(' ')}`],
        },
      ];
    } finally {
      await stack.stop();
    }
  },
};
