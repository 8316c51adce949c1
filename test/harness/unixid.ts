import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** tokens.deviceCodePollIntervalSeconds of every unixid the harness starts (UNIXID_* in `env` overrides it). */
export const TEST_DEVICE_POLL_INTERVAL_SECONDS = 1;

export interface UnixidOptions {
  /** Scratch directory for the data dir, the config file and logs. */
  dir: string;
  /** Extra environment (wrapper variables from createUnixAccounts, UNIXID_* settings). */
  env?: Record<string, string>;
  /** YAML config written to <dir>/unixid.yaml and passed with --config. */
  configYaml?: string;
  /** Listen on this port (default: a free one); the issuer is http://127.0.0.1:<port>. */
  port?: number;
  redisUrl?: string;
  /**
   * What to run: the TypeScript source through tsx (default; what the tests exercise) or the
   * compiled build (`npm run build`) with the node flags of `npm start`, as an operator runs it
   * (the benchmarks measure that).
   */
  entry?: 'source' | 'dist';
  /**
   * Let the process dump core if it crashes: its soft core-size limit is raised to the hard one
   * (through a shell's ulimit, then exec). The core lands where kernel.core_pattern says,
   * relative to the repository root (`/core` there is gitignored). For the benchmarks, whose
   * servers run long enough to meet rare crashes.
   */
  coreDumps?: boolean;
}

/** Signals a process dies of by its own fault (not stop() or kill()). */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT']);

/** Where the kernel writes a core file, for the crash message. */
function corePattern(): string {
  try {
    return readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** The node flags `npm start` passes before the entry point (e.g. `--max-semi-space-size=4`). */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf('dist/src/cli/main.js'));
}

export interface UnixidProcess {
  url: string;
  issuer: string;
  port: number;
  /** Every log line the process printed (stdout and stderr), in order. */
  logs: string[];
  /** Parsed JSON log lines. */
  logEntries(): Record<string, unknown>[];
  /** Resolve when a log line matches, or reject after timeoutMs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait for exit; resolves the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  child: ChildProcess;
}

/**
 * Start `unixid serve` (from source unless told otherwise) as its own process (as a user would run it), on loopback,
 * and wait until /healthz answers. The PAM and NSS wrappers apply to that process only.
 */
export async function startUnixid(options: UnixidOptions): Promise<UnixidProcess> {
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const args = options.entry === 'dist' ? [...startFlags(), join(ROOT, 'dist/src/cli/main.js'), 'serve'] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve'];
  if (options.configYaml !== undefined) {
    const file = join(options.dir, 'unixid.yaml');
    await writeFile(file, options.configYaml);
    args.push('--config', file);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    NODE_ENV: 'test',
    UNIXID_ISSUER: issuer,
    UNIXID_HOST: '127.0.0.1',
    UNIXID_PORT: String(port),
    UNIXID_DATA_DIR: join(options.dir, 'data'),
    UNIXID_LOG_LEVEL: 'debug',
    // A short device-code poll interval, still enforced: device flows poll every second (openid-client
    // follows the advertised interval) instead of the default 5 s.
    UNIXID_DEVICE_POLL_INTERVAL_SECONDS: String(TEST_DEVICE_POLL_INTERVAL_SECONDS),
    ...(options.redisUrl ? { UNIXID_REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
  // With core dumps, a shell raises the limit and then becomes node (exec: the same pid).
  const [command, argv] = options.coreDumps ? ['/bin/sh', ['-c', 'ulimit -c "$(ulimit -H -c)" && exec "$0" "$@"', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      logs.push(line);
      if (process.env.UNIXID_TEST_LOGS) process.stderr.write(`[unixid:${port}] ${line}\n`);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let dead = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      dead = true;
      // A crash is easy to mistake for a slow recovery or a refused login: say it where it happens.
      if (signal && CRASH_SIGNALS.has(signal)) {
        const core = options.coreDumps ? `; core dumps were on (kernel.core_pattern ${corePattern()}, working directory ${ROOT})` : '';
        process.stderr.write(`unixid (pid ${child.pid}) crashed with ${signal}${core}; its last log lines:\n${logs.slice(-10).join('\n')}\n`);
      }
      resolve(code);
    }),
  );

  const url = issuer;
  try {
    await waitFor(`unixid on ${url}`, async () => {
      if (dead) throw new Error('exited');
      return (await fetch(`${url}/healthz`)).ok;
    }, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`unixid did not start: ${(err as Error).message}\n${logs.slice(-30).join('\n')}`);
  }
  if (dead) throw new Error(`unixid exited at start:\n${logs.slice(-30).join('\n')}`);

  return {
    url,
    issuer,
    port,
    logs,
    child,
    logEntries: () =>
      logs.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    waitForLog(pattern, timeoutMs = 5000) {
      const seen = logs.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pattern, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`no log line matched ${pattern} within ${timeoutMs} ms`));
          }
        }, timeoutMs).unref();
      });
    },
    async stop() {
      if (!dead) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (!dead) child.kill('SIGKILL');
      await exited;
    },
  };
}
