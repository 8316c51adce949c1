// Refresh-token grant end to end: Redis (find, rotate, save), the PAM account phase and NSS
// re-read on every refresh, an RS256 ID token. Each virtual user rotates its own chain, as kubelogin
// does. Target: ≤ 3.3 ms of unixid CPU per refresh (≥ 300/s per vCPU). The bare PAM account phase
// (the same binding and pool, nothing around it) is measured alongside to show what PAM itself costs.
import { startBaseline } from '../baselines/baseline-process.js';
import { measure, measureRun, type Measurement } from '../measure.js';
import { refreshTokens } from '../prepare.js';
import { measuredColumns, outcomeNotes, redisNote, threadNote, type Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { CLIENT_ID, pathOf, startStack } from '../stack.js';
import { benchUsers, credentialsOf } from '../users.js';

const TARGET_MS = 3.3;

export const refreshScenario: Scenario = {
  name: 'refresh',
  title: 'Refresh-token grant with Redis and account re-validation',
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const users = benchUsers(ctx.concurrency);
    const stack = await startStack({ backend: 'pam', users, logLevel: ctx.logLevel, env: ctx.serverEnv });
    try {
      ctx.log(`bare PAM account phase (${ctx.concurrency} at once)`);
      const bare = await startBaseline('bare-pam.ts', {
        ...stack.accounts!.env,
        BENCH_PAM: JSON.stringify({ service: stack.accounts!.service, op: 'pamAccount', threads: 4, users: credentialsOf(users) }),
      });
      let base;
      try {
        base = await measureRun((hooks) => bare.run({ concurrency: ctx.concurrency, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds }, hooks), [{ name: 'baseline', pid: bare.pid }], { repeat: ctx.repeat });
      } finally {
        await bare.stop();
      }
      // The chains rotate, so a repeated run needs chains of its own: measureRun cannot simply rerun.
      const runs: Measurement[] = [];
      for (let i = 0; i < ctx.repeat; i++) {
        ctx.log(`${users.length} refresh chains from the password grant; unixid refresh grant`);
        const chains = await refreshTokens(stack.url, stack.discovery, users);
        runs.push(
          await measure(
            {
              target: stack.url,
              flow: { kind: 'refresh', tokenPath: pathOf(stack.discovery.token_endpoint), clientId: CLIENT_ID, refreshTokens: chains },
              mode: { kind: 'closed', concurrency: users.length, seconds: ctx.seconds },
              warmupSeconds: ctx.warmupSeconds,
              requestTimeoutMs: 10_000,
            },
            stack.watched(),
            { redisPort: stack.redis.port },
          ),
        );
      }
      const best = runs.reduce((a, b) => (b.cost.unixid!.cpuMsPerOp < a.cost.unixid!.cpuMsPerOp ? b : a));
      const run: Measurement = runs.length > 1 ? { ...best, runs: runs.map((m) => ({ opsPerSecond: m.load.opsPerSecond, cpuMsPerOp: m.cost.unixid!.cpuMsPerOp })) } : best;
      const cpu = run.cost.unixid!.cpuMsPerOp;
      const baseCpu = base.cost.baseline!.cpuMsPerOp;
      return [
        { scenario: 'bare PAM account phase (pamAccount)', kind: 'baseline', ...measuredColumns(base, 'baseline'), notes: outcomeNotes(base), details: base },
        {
          scenario: 'refresh grant (Redis + PAM acct + NSS)',
          kind: 'unixid',
          ...measuredColumns(run),
          baseline: `bare pamAccount ${baseCpu} ms`,
          compare: `own ${(cpu - baseCpu).toFixed(2)} ms`,
          target: `≤ ${TARGET_MS} ms CPU`,
          pass: run.load.errors === 0 && cpu <= TARGET_MS,
          notes: [...outcomeNotes(run, '', stack.problems), redisNote(run), threadNote(run), `unixid used ${run.cost.unixid!.cores} cores`],
          details: run,
        },
      ];
    } finally {
      await stack.stop();
    }
  },
};
