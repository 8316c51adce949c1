import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/harness/ports.js';
import { startFlags } from '../test/harness/unixid.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST_MAIN = join(ROOT, 'dist/src/cli/main.js');
const SOURCE_MAIN = join(ROOT, 'src/cli/main.ts');

export interface Launched {
  pid: number;
  url: string;
  /** Spawn to the first 200 from /readyz, milliseconds. */
  readyMs: number;
  /** The last lines it printed. */
  output(): string;
  stop(): Promise<void>;
}

export interface LaunchOptions {
  from: 'source' | 'dist';
  dir: string;
  configYaml: string;
  /** The environment the harness gave the bench's server (wrappers, Redis URL, log level). */
  env: Record<string, string>;
}

/**
 * Start `unixid serve` as an operator would (`node dist/src/cli/main.js serve`, or from source with
 * tsx like the test harness) and time it from spawn to /readyz 200, polling every 5 ms. The
 * harness cannot do this: it waits on /healthz every 50 ms, too coarse to time start-up. Rejects with
 * the output when it is not ready within 20 s.
 */
export async function launchUnixid(options: LaunchOptions): Promise<Launched> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(options.dir, `unixid-${options.from}-${port}.yaml`);
  await writeFile(configFile, options.configYaml);
  const args = options.from === 'dist' ? [...startFlags(), DIST_MAIN, 'serve', '--config', configFile] : ['--import', 'tsx', SOURCE_MAIN, 'serve', '--config', configFile];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    NODE_ENV: 'test',
    UNIXID_DATA_DIR: join(options.dir, 'data'),
    ...options.env,
    UNIXID_ISSUER: url,
    UNIXID_HOST: '127.0.0.1',
    UNIXID_PORT: String(port),
  };
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Read (and mostly drop) its logs: a full pipe would block the server.
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  const stop = async () => {
    process.off('exit', orphaned);
    if (!dead) child.kill('SIGTERM');
    await exited;
  };
  const deadline = started + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (dead || performance.now() > deadline) {
      await stop();
      throw new Error(`unixid (${options.from}) not ready${dead ? ': it exited' : ' within 20 s'}\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { pid: child.pid!, url, readyMs: Math.round(performance.now() - started), output: () => output, stop };
}
