import type { Measurement } from './measure.js';

/** One line of the table; baselines are rows of their own, right above what they are compared with. */
export interface Row {
  scenario: string;
  kind: 'unixid' | 'baseline' | 'info';
  rps?: number;
  p50?: number;
  p99?: number;
  /** Server CPU milliseconds per operation (unixid's process; the baseline's for baselines). */
  cpuMsPerOp?: number;
  peakRssMb?: number;
  /** The baseline this row is compared with, in a few words ("bare-verify 6021/s"). */
  baseline?: string;
  /** The compared value ("0.83×", "own 2.9 ms"). */
  compare?: string;
  target?: string;
  /** undefined: no target. */
  pass?: boolean;
  notes?: string[];
  /** The raw measurement(s), for results.json. */
  details?: unknown;
}

/** The columns every measured row shares, from a Measurement of process `who`. */
export function measuredColumns(m: Measurement, who = 'unixid'): Pick<Row, 'rps' | 'p50' | 'p99' | 'cpuMsPerOp' | 'peakRssMb'> {
  const c = m.cost[who];
  return {
    rps: m.load.opsPerSecond,
    p50: m.load.latency.p50,
    p99: m.load.latency.p99,
    ...(c ? { cpuMsPerOp: c.cpuMsPerOp, peakRssMb: c.peakRssMb } : {}),
  };
}

/**
 * Notes on errors and outcome mix, so a fast run that answered wrongly is never mistaken for a
 * result; with errors, also the server's last warnings (`problems`, e.g. Stack.problems).
 */
export function outcomeNotes(m: Measurement, label = '', problems?: () => string[]): string[] {
  const l = m.load;
  const notes: string[] = [];
  const mix = Object.entries(l.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  notes.push(`${label}${l.operations} ops in ${l.seconds} s (${mix})`);
  if (l.scheduleLag && l.scheduleLag.p99 >= 1) notes.push(`${label}load generator started late: p99 ${l.scheduleLag.p99} ms, max ${l.scheduleLag.max} ms (not counted as latency)`);
  if (m.runs) notes.push(`${label}best of ${m.runs.length} runs (lowest CPU/op): ${m.runs.map((r) => `${Math.round(r.opsPerSecond)}/s ${r.cpuMsPerOp} ms`).join(', ')}`);
  if (l.errors > 0) {
    notes.push(`${label}${l.errors} errors${l.dropped ? ` (${l.dropped} dropped)` : ''}: ${l.errorSamples.slice(0, 2).join(' | ')}`);
    for (const p of problems?.().slice(-2) ?? []) notes.push(`${label}server said: ${p}`);
  }
  return notes;
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined || Number.isNaN(v) ? '' : v >= 100 ? Math.round(v).toString() : v.toFixed(digits));

const HEADER = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/op', 'peak RSS MB', 'baseline', 'ratio', 'target', 'result'];

/** One row's cells, the same for both renderings but for how a baseline and a failure are marked. */
function cellsOf(r: Row, marks: { baseline: string; fail: string }): string[] {
  return [
    r.kind === 'baseline' ? `${marks.baseline}${r.scenario}` : r.scenario,
    fmt(r.rps, 0),
    fmt(r.p50, 2),
    fmt(r.p99, 2),
    fmt(r.cpuMsPerOp, 3),
    fmt(r.peakRssMb, 0),
    r.baseline ?? '',
    r.compare ?? '',
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'pass' : marks.fail,
  ];
}

/** The table as fixed-width text: scenario, req/s, p50, p99, CPU ms/op, peak RSS, baseline, ratio, target, result. */
export function renderTable(rows: Row[]): string {
  const header = HEADER;
  const body = rows.map((r) => cellsOf(r, { baseline: '  ↳ ', fail: 'FAIL' }));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same table in Markdown, for the README. */
export function renderMarkdown(rows: Row[]): string {
  const header = HEADER;
  const cells = rows.map((r) => cellsOf(r, { baseline: '↳ ', fail: '**FAIL**' }));
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...cells.map((c) => `| ${c.map(esc).join(' | ')} |`)].join('\n');
}

/** How unixid's CPU per operation splits between the event loop and its other threads. */
export function threadNote(m: Measurement, who = 'unixid'): string {
  const c = m.cost[who];
  return c ? `${who} CPU per op: ${c.mainThreadMsPerOp} ms on the main thread, ${(c.cpuMsPerOp - c.mainThreadMsPerOp).toFixed(3)} ms on other threads (libuv pool, workers, GC)` : '';
}

/** What Redis did per operation: commands and CPU. */
export function redisNote(m: Measurement): string {
  const cmds = m.redisCommandsPerOp === undefined ? '' : `${m.redisCommandsPerOp} commands, `;
  return `redis per op: ${cmds}${m.cost.redis?.cpuMsPerOp ?? '?'} ms CPU`;
}
