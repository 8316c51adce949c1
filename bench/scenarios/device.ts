// Device-code polling: kubelogin's device mode polls /token while the user has not approved yet.
// Polled much faster than the advertised interval: what a misbehaving or many-terminal client costs
// the server. unixid enforces the interval per device code (RFC 8628 slow_down): the first poll of
// each code reaches the device grant (authorization_pending); every later one here comes sooner
// than the code's interval, so nearly all answers are slow_down, given by the poll gate (the body
// read and one Redis script) before the grant looks anything up. Every answer must be one of the two.
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
