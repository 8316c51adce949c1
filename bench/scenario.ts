import type { Row } from './report.js';

/** What every scenario is told by the runner (bench/run.ts flags). */
export interface BenchContext {
  /** Length of each measured window. */
  seconds: number;
  /** Unrecorded load before each window. */
  warmupSeconds: number;
  /** Closed-loop connections for the HTTP scenarios. */
  concurrency: number;
  /** unixid's log level (production default: info). */
  logLevel: string;
  /** Soak length. */
  minutes: number;
  /** Repeat each measurement and keep the cheapest run (see MeasureOptions.repeat); the webhook runs this many pairs (bench/paired.ts). */
  repeat: number;
  /** Extra server environment (e.g. NODE_OPTIONS=--cpu-prof). */
  serverEnv: Record<string, string>;
  log(message: string): void;
}

/** A benchmark scenario: starts what it needs, warms up, measures, tears down, returns its rows. */
export interface Scenario {
  name: string;
  title: string;
  /** Run by a bare `npm run bench` (the soak is not: it is asked for by name). */
  byDefault: boolean;
  run(ctx: BenchContext): Promise<Row[]>;
}
