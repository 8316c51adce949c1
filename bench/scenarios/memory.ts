// Memory and start-up: Redis bytes per active session, RSS after a server has run every workload
// of the suite, and spawn-to-ready time, all of the compiled build (dist/) started as `npm start`
// starts it.
import { statSync } from 'node:fs';
import { runLoad } from '../load.js';
import { median } from '../median.js';
import { loginFlowSpec } from '../prepare.js';
import { keyFootprint, type KeyKind } from '../redis-footprint.js';
import type { Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { heapFromMetrics, redisMemory, sampleProc, threadCount } from '../server-stats.js';
import { startStack, type Discovery, type Stack } from '../stack.js';
import { DIST_MAIN, launchUnixid } from '../unixid-launcher.js';
import { benchUsers, credentialsOf } from '../users.js';
import { runMixedWorkload } from '../mixed-workload.js';

const SESSIONS = 200;
const STARTS = 5;
const RSS_TARGET_MB = 120;
const READY_TARGET_MS = 1500;
const SESSION_TARGET_BYTES = 4096;
/** What stays in Redis for as long as a session (and its refresh chain) is alive. */
const SESSION_KINDS = ['Session', 'uid', 'Grant', 'grant', 'RefreshToken'];
/** Kept per user rather than per session; a user with one session pays it once. */
const PER_USER_KINDS = ['Account', 'AccountName'];


async function sessionFootprint(ctx: BenchContext, stack: Stack, users: ReturnType<typeof benchUsers>): Promise<Row> {
  const port = stack.redis.port;
  const before = await redisMemory(port);
  const kindsBefore = await keyFootprint(port, 'unixid:');
  ctx.log(`logging ${SESSIONS} users in (one browser session each)`);
  const logins = await runLoad({
    target: stack.url,
    flow: loginFlowSpec(stack.discovery, credentialsOf(users.slice(0, SESSIONS))),
    mode: { kind: 'closed', concurrency: 4, seconds: 300, operations: SESSIONS },
    warmupSeconds: 0,
    requestTimeoutMs: 15_000,
  });
  const after = await redisMemory(port);
  const kinds = await keyFootprint(port, 'unixid:');
  const added = (k: string): KeyKind => ({ count: (kinds[k]?.count ?? 0) - (kindsBefore[k]?.count ?? 0), meanBytes: kinds[k]?.meanBytes ?? 0 });
  const perSession = (list: string[]) => list.reduce((sum, k) => sum + (added(k).count * added(k).meanBytes) / SESSIONS, 0);
  const sessionBytes = Math.round(perSession(SESSION_KINDS));
  const userBytes = Math.round(perSession(PER_USER_KINDS));
  const deltaPerSession = Math.round((after.usedMemory - before.usedMemory) / SESSIONS);
  const breakdown = Object.entries(kinds)
    .map(([k, v]) => `${k} ${added(k).count}×${v.meanBytes} B`)
    .join(', ');
  return {
    scenario: `Redis per active session (${SESSIONS} logins)`,
    kind: 'unixid',
    compare: `${sessionBytes} B`,
    target: `≤ ${SESSION_TARGET_BYTES} B`,
    pass: logins.errors === 0 && sessionBytes <= SESSION_TARGET_BYTES,
    notes: [
      `MEMORY USAGE of ${SESSION_KINDS.join(' + ')}: ${sessionBytes} B per session; + ${userBytes} B per user (${PER_USER_KINDS.join(', ')})`,
      `used_memory delta / ${SESSIONS}: ${deltaPerSession} B (includes the short-lived Interaction, AuthorizationCode and AccessToken until they expire)`,
      `DBSIZE ${before.dbsize} → ${after.dbsize}; keys added: ${breakdown}`,
      ...(logins.errors > 0 ? [`${logins.errors} logins failed: ${logins.errorSamples.join(' | ')}`, ...stack.problems().slice(-2)] : []),
    ],
    details: { before, after, kindsBefore, kinds, logins },
  };
}

async function startupRow(ctx: BenchContext, stack: Stack): Promise<Row> {
  const times: number[] = [];
  // One unrecorded start first: it fills the OS page cache.
  for (let i = 0; i <= STARTS; i++) {
    const s = await launchUnixid({ from: 'dist', dir: stack.dir, configYaml: stack.configYaml, env: stack.env });
    if (i > 0) times.push(s.readyMs);
    await s.stop();
  }
  ctx.log(`start-up: ${times.join(', ')} ms`);
  const middle = median(times, (t) => t, 'higher');
  return {
    scenario: 'start-up to /readyz 200',
    kind: 'unixid',
    compare: `${middle} ms`,
    target: `≤ ${READY_TARGET_MS} ms`,
    pass: middle <= READY_TARGET_MS,
    notes: [`median of ${STARTS} starts (spawn → first 200 from /readyz, Redis and PAM configured): ${times.join(', ')} ms`],
    details: { times },
  };
}

async function rssRow(ctx: BenchContext, stack: Stack, users: ReturnType<typeof benchUsers>): Promise<Row> {
  // A server of its own: the stack's has already served the session-footprint logins.
  const server = await launchUnixid({ from: 'dist', dir: stack.dir, configYaml: stack.configYaml, env: stack.env });
  try {
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Discovery;
    const idle = sampleProc(server.pid);
    ctx.log(`whole-suite workload on one server, ${ctx.seconds} s each`);
    const results = await runMixedWorkload({ target: server.url, discovery, users, secondsEach: ctx.seconds, concurrency: ctx.concurrency });
    // Let in-flight work and timers settle, as a server between bursts would.
    await new Promise((r) => setTimeout(r, 2000));
    const end = sampleProc(server.pid);
    const heap = await heapFromMetrics(server.url);
    const mb = (kb: number) => Math.round(kb / 102.4) / 10;
    const errors = Object.values(results).reduce((n, r) => n + r.errors, 0);
    return {
      scenario: 'RSS after the whole suite',
      kind: 'unixid',
      peakRssMb: mb(end.hwmKb),
      compare: `${mb(end.rssKb)} MB`,
      target: `≤ ${RSS_TARGET_MB} MB`,
      pass: mb(end.rssKb) <= RSS_TARGET_MB && errors === 0,
      notes: [
        `RSS idle after start ${mb(idle.rssKb)} MB, after the workload ${mb(end.rssKb)} MB, peak (VmHWM) ${mb(end.hwmKb)} MB`,
        ...(heap ? [`V8 (from /metrics): heap ${heap.heapUsedMb} MB used of ${heap.heapTotalMb} MB, external ${heap.externalMb} MB; ${threadCount(server.pid)} threads`] : []),
        `workload: ${Object.entries(results)
          .map(([k, r]) => `${k} ${Math.round(r.opsPerSecond)}/s`)
          .join(', ')}${errors > 0 ? `; ${errors} errors` : ''}`,
        `dist built ${statSync(DIST_MAIN).mtime.toISOString()}`,
      ],
      details: { idle, end, heap, results },
    };
  } finally {
    await server.stop();
  }
}

export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'Redis bytes per session, RSS after the whole suite, start-up time',
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const users = benchUsers(SESSIONS);
    const stack = await startStack({ backend: 'pam', users, logLevel: ctx.logLevel, env: ctx.serverEnv });
    try {
      const rows: Row[] = [await sessionFootprint(ctx, stack, users)];
      rows.push(await rssRow(ctx, stack, users));
      rows.push(await startupRow(ctx, stack));
      return rows;
    } finally {
      await stack.stop();
    }
  },
};
