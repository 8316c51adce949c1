// `npm run bench -- [scenario...] [--seconds N] ...`: runs the scenarios one after another, prints
// one table (each result next to the baseline measured in the same run) and writes results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './machine.js';
import { parseOptions, USAGE } from './options.js';
import { renderMarkdown, renderTable, type Row } from './report.js';
import type { BenchContext, Scenario } from './scenario.js';
import { deviceScenario } from './scenarios/device.js';
import { discoveryScenario } from './scenarios/discovery.js';
import { isolationScenario } from './scenarios/isolation.js';
import { loginScenario } from './scenarios/login.js';
import { memoryScenario } from './scenarios/memory.js';
import { refreshScenario } from './scenarios/refresh.js';
import { soakScenario } from './scenarios/soak.js';
import { webhookScenario } from './scenarios/webhook.js';

const SCENARIOS: Scenario[] = [webhookScenario, discoveryScenario, refreshScenario, loginScenario, deviceScenario, isolationScenario, memoryScenario, soakScenario];
const DEFAULT_OUT = fileURLToPath(new URL('./results.json', import.meta.url));

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), DEFAULT_OUT);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = options.scenarios.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (have: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  const chosen = options.scenarios.length > 0 ? SCENARIOS.filter((s) => options.scenarios.includes(s.name)) : SCENARIOS.filter((s) => s.byDefault);

  const serverEnv: Record<string, string> = {};
  if (options.cpuProfDir) {
    const dir = resolve(options.cpuProfDir);
    mkdirSync(dir, { recursive: true });
    // node refuses --cpu-prof in NODE_OPTIONS; a preload takes the profile through the inspector.
    serverEnv.NODE_OPTIONS = `--import tsx --import ${fileURLToPath(new URL('./cpu-profile.ts', import.meta.url))}`;
    serverEnv.BENCH_CPU_PROF_DIR = dir;
  }
  const machine = describeMachine();
  const started = Date.now();
  const log = (m: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
  log(`${machine.nproc} × ${machine.cpuModel}, node ${machine.node}, load average ${machine.loadAverage}; scenarios: ${chosen.map((s) => s.name).join(' ')}`);

  const rows: Row[] = [];
  const failures: { scenario: string; error: string }[] = [];
  for (const s of chosen) {
    const ctx: BenchContext = {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      concurrency: options.concurrency,
      logLevel: options.logLevel,
      minutes: options.minutes,
      repeat: options.repeat,
      serverEnv,
      log: (m) => log(`${s.name}: ${m}`),
    };
    log(`${s.name}: ${s.title}`);
    try {
      rows.push(...(await s.run(ctx)));
    } catch (err) {
      // One scenario's broken set-up should not cost the others their numbers.
      const error = (err as Error).stack ?? String(err);
      log(`${s.name} FAILED: ${error}`);
      failures.push({ scenario: s.name, error });
      rows.push({ scenario: `${s.name} (failed to run)`, kind: 'unixid', pass: false, notes: [error.split('\n')[0]!] });
    }
  }

  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  for (const r of rows) for (const n of r.notes ?? []) process.stdout.write(`  ${r.scenario}: ${n}\n`);
  process.stdout.write(`\nmachine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGb} GB, node ${machine.node}, load average at start ${machine.loadAverage}, commit ${machine.commit}\n`);
  writeFileSync(
    options.out,
    `${JSON.stringify({ machine, options: { ...options, out: undefined }, durationSeconds: Math.round((Date.now() - started) / 1000), rows, failures, markdown: renderMarkdown(rows) }, null, 2)}\n`,
  );
  log(`wrote ${options.out}`);
  return rows.some((r) => r.pass === false) ? 1 : 0;
}

// Interrupted: exit through 'exit', where the harness kills the Redis and slapd it started (and the
// stacks their servers); load workers and baselines leave by themselves when the IPC channel closes.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  },
);
