// Discovery and JWKS: what kube-apiserver and every client fetch. Compared with a bare node:http
// server answering the same bytes, so the ratio is unixid's (express + oidc-provider) overhead.
import { startBaseline } from '../baselines/baseline-process.js';
import type { LoadSpec } from '../load-spec.js';
import { measure, type Measurement } from '../measure.js';
import { measuredColumns, outcomeNotes, threadNote, type Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { pathOf, startStack } from '../stack.js';

export const discoveryScenario: Scenario = {
  name: 'discovery',
  title: 'Discovery document and JWKS',
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const stack = await startStack({ backend: 'pam', logLevel: ctx.logLevel, env: ctx.serverEnv });
    try {
      const paths = { discovery: '/.well-known/openid-configuration', jwks: pathOf(stack.discovery.jwks_uri) };
      const documents: Record<string, string> = {};
      for (const p of Object.values(paths)) documents[p] = await (await fetch(`${stack.url}${p}`)).text();
      const bare = await startBaseline('bare-static.ts', { BENCH_DOCUMENTS: JSON.stringify(documents) });
      try {
        const spec = (target: string, path: string): LoadSpec => ({
          target,
          flow: { kind: 'requests', requests: [{ method: 'GET', path, headers: { accept: 'application/json' } }] },
          mode: { kind: 'closed', concurrency: ctx.concurrency, seconds: ctx.seconds },
          warmupSeconds: ctx.warmupSeconds,
          requestTimeoutMs: 10_000,
        });
        const rows: Row[] = [];
        for (const [name, path] of Object.entries(paths)) {
          ctx.log(`${name}: bare node:http`);
          const base = await measure(spec(bare.url, path), [{ name: 'baseline', pid: bare.pid }], { repeat: ctx.repeat });
          ctx.log(`${name}: unixid`);
          const run = await measure(spec(stack.url, path), stack.watched(), { redisPort: stack.redis.port, repeat: ctx.repeat });
          const ratio = (m: Measurement) => (m.load.opsPerSecond / base.load.opsPerSecond).toFixed(2);
          rows.push(
            { scenario: `${name} bare node:http (same bytes)`, kind: 'baseline', ...measuredColumns(base, 'baseline'), notes: outcomeNotes(base), details: base },
            {
              scenario: `${name} (${documents[path]!.length} B)`,
              kind: 'unixid',
              ...measuredColumns(run),
              baseline: `bare ${Math.round(base.load.opsPerSecond)}/s`,
              compare: `${ratio(run)}×`,
              ...(run.load.errors > 0 ? { pass: false } : {}),
              notes: [...outcomeNotes(run, '', stack.problems), threadNote(run)],
              details: run,
            },
          );
        }
        return rows;
      } finally {
        await bare.stop();
      }
    } finally {
      await stack.stop();
    }
  },
};
