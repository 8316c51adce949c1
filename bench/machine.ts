import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';

/** The machine a run was measured on, for results.json and the README. */
export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  date: string;
  /** 1-minute load average when the run started: other work on a shared machine shows here. */
  loadAverage: number;
  commit: string;
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Describe this machine; never throws (unknown parts are empty). */
export function describeMachine(): Machine {
  let cpuModel = '';
  try {
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    // not Linux
  }
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src']) !== '';
  return {
    nproc: Number(run('nproc', [])) || availableParallelism(),
    cpuModel,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    commit: `${run('git', ['rev-parse', '--short', 'HEAD'])}${dirty ? '+dirty' : ''}`,
  };
}
