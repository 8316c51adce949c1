// Device-code polling: kubelogin's device mode polls /token while the user has not approved yet.
// Polled much faster than the advertised interval: what a misbehaving or many-terminal client costs
// the server. Every answer must be authorization_pending or slow_down (oidc-provider 9 defines
// slow_down but never sends it, so expect only pending: fast polling is not pushed back).
import { measure } from '../measure.js';
import { deviceCodes, devicePoll } from '../prepare.js';
import { measuredColumns, outcomeNotes, redisNote, threadNote, type Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { startStack } from '../stack.js';

const DEVICES = 64;

export const deviceScenario: Scenario = {
  name: 'device',
  title: 'Device-code polling while pending',
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const stack = await startStack({ backend: 'pam', logLevel: ctx.logLevel, env: ctx.serverEnv });
    try {
      ctx.log(`${DEVICES} device authorizations`);
      const codes = await deviceCodes(stack.url, stack.discovery, DEVICES);
      ctx.log('polling');
      const run = await measure(
        {
          target: stack.url,
          flow: {
            kind: 'requests',
            requests: codes.map((c) => devicePoll(stack.discovery, c)),
            expectStatus: [400],
            expectBody: '"error":"(authorization_pending|slow_down)"',
            outcomeFromBody: '"error":"([a-z_]+)"',
          },
          mode: { kind: 'closed', concurrency: ctx.concurrency, seconds: ctx.seconds },
          warmupSeconds: ctx.warmupSeconds,
          requestTimeoutMs: 10_000,
        },
        stack.watched(),
        { redisPort: stack.redis.port, repeat: ctx.repeat },
      );
      return [
        {
          scenario: `device-code polling (${DEVICES} pending)`,
          kind: 'unixid',
          ...measuredColumns(run),
          ...(run.load.errors > 0 ? { pass: false } : {}),
          notes: [...outcomeNotes(run, '', stack.problems), redisNote(run), threadNote(run)],
          details: run,
        },
      ];
    } finally {
      await stack.stop();
    }
  },
};
