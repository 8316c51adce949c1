import type { HttpSend } from '../http-driver.js';

/** How one operation ended: `outcome` is the key counted in the report (a status, or a named failure). */
export interface OpOutcome {
  ok: boolean;
  outcome: string;
  /** Step name for per-step latency (soak); the flow's operations are one step otherwise. */
  step?: string;
  detail?: string;
  /** The body, when the flow collects them. */
  collected?: string;
}

/** A kind of operation the load worker repeats; `run` never throws for a wrong answer, only resolves ok:false. */
export interface Flow {
  run(vu: number, seq: number): Promise<OpOutcome>;
}

export type FlowFactory<S> = (spec: S, send: HttpSend) => Flow;
