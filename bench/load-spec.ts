// The JSON the benchmark process sends the load worker over IPC, and what comes back. Plain data
// only: it crosses a process boundary.

/** One HTTP request, relative to the target's base URL. */
export interface RequestTemplate {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Fixed requests sent in turn (request i of the run uses template (startAt + i) mod n). */
export interface RequestsFlow {
  kind: 'requests';
  requests: RequestTemplate[];
  /** Where in `requests` the run starts (default 0): a run can go on where the last one stopped. */
  startAt?: number;
  /** Statuses that count as a correct answer (default: 2xx). */
  expectStatus?: number[];
  /** A regular expression the body must match to count as correct. */
  expectBody?: string;
  /** A regular expression whose first group is added to the outcome ("400 slow_down"). */
  outcomeFromBody?: string;
  /** Return the bodies of correct answers (minting tokens); bounded by the request count. */
  collectBodies?: boolean;
}

/** Each virtual user keeps its own refresh-token chain and rotates it on every request. */
export interface RefreshFlow {
  kind: 'refresh';
  tokenPath: string;
  clientId: string;
  /** One starting refresh token per virtual user; more users than tokens is a spec error. */
  refreshTokens: string[];
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * A browser-shaped login: authorize (PKCE), the login page, the form post, the redirect back and
 * the code exchange, with a fresh cookie jar each time (a first login in a new browser).
 */
export interface LoginFlow {
  kind: 'login';
  /** oidc-provider's authorization and token endpoint paths (from discovery). */
  authorizePath: string;
  tokenPath: string;
  clientId: string;
  redirectUri: string;
  /** Login i uses users[i mod n]. */
  users: Credentials[];
  /** 'tokens': the flow must end with an ID token; 'refused': the form post must answer refusedStatus. */
  expect: 'tokens' | 'refused';
  /** Status of a refused form post (default 401). */
  refusedStatus?: number[];
}

/**
 * The soak's loop per virtual user: a browser login, then `refreshesPerLogin` rounds of (refresh,
 * TokenReview of the new ID token), then a new login. Latency is kept per step.
 */
export interface SoakFlow {
  kind: 'soak';
  authorizePath: string;
  tokenPath: string;
  clientId: string;
  redirectUri: string;
  users: Credentials[];
  refreshesPerLogin: number;
  webhookPath: string;
}

export type FlowSpec = RequestsFlow | RefreshFlow | LoginFlow | SoakFlow;

/** Closed loop: `concurrency` virtual users, each starting its next operation when the last ends. */
export interface ClosedLoop {
  kind: 'closed';
  concurrency: number;
  /** Measured duration; the run also stops after `operations`, whichever comes first. */
  seconds: number;
  operations?: number;
  /** Pause between one virtual user's operations (the soak's pacing). */
  thinkMs?: number;
}

/** Open loop: operations start on a fixed schedule whether or not earlier ones finished. */
export interface OpenLoop {
  kind: 'open';
  rate: number;
  seconds: number;
  /** Operations still running beyond this are not started (counted as dropped, which are errors). */
  maxInFlight: number;
}

export interface LoadSpec {
  /** http://127.0.0.1:PORT, no trailing slash. */
  target: string;
  flow: FlowSpec;
  mode: ClosedLoop | OpenLoop;
  /** Run the same load this long first, unrecorded (JIT, caches, connection set-up). */
  warmupSeconds: number;
  /** One HTTP request slower than this fails (the operation is an error). */
  requestTimeoutMs: number;
  /** Keep-alive connections at most (default: concurrency, or maxInFlight for an open loop). */
  connections?: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** Operations that finished in the measured window, correct or not. */
  operations: number;
  errors: number;
  /** Open loop only: operations not started because maxInFlight were still running. */
  dropped: number;
  /** Measured window, first start to last end, seconds. */
  seconds: number;
  opsPerSecond: number;
  /** Latency of every measured operation, milliseconds, from when it started. */
  latency: LatencySummary;
  /** Open loop: how late the load generator started operations (its own starvation, not the server's). */
  scheduleLag?: LatencySummary;
  /** Per step name, where a flow has several (soak: login, refresh, review). */
  steps: Record<string, LatencySummary>;
  /** Final status of each operation, and error kinds ("timeout", "ECONNRESET", "unexpected body"). */
  outcomes: Record<string, number>;
  /** HTTP requests sent in the measured window (a login is several). */
  httpRequests: number;
  /** Operations started in the whole run, warm-up included (where the next run of a requests flow goes on). */
  started: number;
  /** A few error details, for the report. */
  errorSamples: string[];
  collected?: string[];
}

/** Parent to worker. */
export type ToWorker = { type: 'run'; spec: LoadSpec } | { type: 'stop' };

/** Worker to parent: 'measuring' marks the start of the recorded window (the parent samples CPU then). */
export type FromWorker = { type: 'measuring' } | { type: 'done'; result: LoadResult } | { type: 'failed'; error: string };
