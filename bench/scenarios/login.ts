// Full browser-shaped login (authorize, login page, form post, redirect back, code exchange) with
// PAM and with LDAP, each next to the bare backend work measured in the same run: bare PAM
// transactions through unixid's binding, and a bare ldapts bind-search-bind loop against the same
// slapd. Target: unixid's CPU per login minus the baseline's CPU per transaction ≤ 5 ms.
import { startBaseline, type BaselineProcess } from '../baselines/baseline-process.js';
import type { Credentials } from '../load-spec.js';
import { measure, measureRun, type Measurement } from '../measure.js';
import { loginFlowSpec } from '../prepare.js';
import { measuredColumns, outcomeNotes, redisNote, threadNote, type Row } from '../report.js';
import type { BenchContext, Scenario } from '../scenario.js';
import { BASE_DN, SERVICE_DN, SERVICE_PASSWORD } from '../../test/harness/slapd.js';
import { startStack, type Stack } from '../stack.js';
import { slapdPid } from '../server-stats.js';
import { benchUsers, credentialsOf } from '../users.js';

const TARGET_OWN_MS = 5;
/**
 * A login runs through far more code than one review or refresh (five requests, oidc-provider's
 * whole authorization flow), and V8 is still optimising it after the default two seconds (about
 * 250 logins here): measured after 250, a login cost 10-15 % more CPU than after 1,000. A server
 * logs people in all day, so the figure is its steady state: at least this long warm-up, for the
 * baseline too.
 */
const LOGIN_WARMUP_SECONDS = 8;
const LDAP_USERS: Credentials[] = ['alice', 'bob', 'carol', 'dave', 'erin'].map((u) => ({ username: u, password: `${u}-password` }));

async function compare(ctx: BenchContext, stack: Stack, users: Credentials[], bare: BaselineProcess, backend: string, baselineName: string): Promise<Row[]> {
  const concurrency = Math.max(1, Math.floor(ctx.concurrency / 2));
  const warmup = Math.max(ctx.warmupSeconds, LOGIN_WARMUP_SECONDS);
  const slapd = stack.slapd ? [{ name: 'slapd', pid: slapdPid(stack.slapd.dir) }] : [];
  let base: Measurement;
  try {
    ctx.log(`${baselineName} (${concurrency} at once)`);
    base = await measureRun((hooks) => bare.run({ concurrency, seconds: ctx.seconds, warmupSeconds: warmup }, hooks), [{ name: 'baseline', pid: bare.pid }, ...slapd], { repeat: ctx.repeat });
  } finally {
    await bare.stop();
  }
  ctx.log(`unixid browser login with ${backend} (${concurrency} at once)`);
  const run = await measure(
    { target: stack.url, flow: loginFlowSpec(stack.discovery, users), mode: { kind: 'closed', concurrency, seconds: ctx.seconds }, warmupSeconds: warmup, requestTimeoutMs: 15_000 },
    stack.watched(),
    { redisPort: stack.redis.port, repeat: ctx.repeat },
  );
  const cpu = run.cost.unixid!.cpuMsPerOp;
  const baseCpu = base.cost.baseline!.cpuMsPerOp;
  const own = cpu - baseCpu;
  const slapdNote = (m: Measurement) => (m.cost.slapd ? [`slapd CPU ${m.cost.slapd.cpuMsPerOp} ms/op`] : []);
  return [
    { scenario: baselineName, kind: 'baseline', ...measuredColumns(base, 'baseline'), notes: [...outcomeNotes(base), ...slapdNote(base)], details: base },
    {
      scenario: `browser login, ${backend}`,
      kind: 'unixid',
      ...measuredColumns(run),
      baseline: `${baselineName.split(' (')[0]} ${baseCpu} ms`,
      compare: `own ${own.toFixed(2)} ms`,
      target: `own ≤ ${TARGET_OWN_MS} ms CPU`,
      pass: run.load.errors === 0 && own <= TARGET_OWN_MS,
      notes: [...outcomeNotes(run, '', stack.problems), `${(run.load.httpRequests / Math.max(1, run.load.operations)).toFixed(1)} HTTP requests per login`, redisNote(run), threadNote(run), ...slapdNote(run)],
      details: run,
    },
  ];
}

export const loginScenario: Scenario = {
  name: 'login',
  title: 'Browser-shaped login with PAM and with LDAP, against bare PAM and bare ldapts',
  byDefault: true,
  async run(ctx: BenchContext): Promise<Row[]> {
    const rows: Row[] = [];
    const users = benchUsers(50);
    const pam = await startStack({ backend: 'pam', users, logLevel: ctx.logLevel, env: ctx.serverEnv });
    try {
      const bare = await startBaseline('bare-pam.ts', {
        ...pam.accounts!.env,
        BENCH_PAM: JSON.stringify({ service: pam.accounts!.service, op: 'pamLogin', threads: 4, users: credentialsOf(users) }),
      });
      rows.push(...(await compare(ctx, pam, credentialsOf(users), bare, 'PAM', 'bare PAM (pamLogin)')));
    } finally {
      await pam.stop();
    }
    const ldap = await startStack({ backend: 'ldap', logLevel: ctx.logLevel, env: ctx.serverEnv });
    try {
      const bare = await startBaseline('bare-ldap.ts', {
        BENCH_LDAP: JSON.stringify({ url: ldap.slapd!.url, baseDn: BASE_DN, groupBaseDn: `ou=groups,${BASE_DN}`, serviceDn: SERVICE_DN, servicePassword: SERVICE_PASSWORD, users: LDAP_USERS }),
      });
      rows.push(...(await compare(ctx, ldap, LDAP_USERS, bare, 'LDAP', 'bare ldapts (search, bind, groups)')));
    } finally {
      await ldap.stop();
    }
    return rows;
  },
};
