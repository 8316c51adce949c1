import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './ports.js';
import { tempDir } from './tmp.js';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const run = promisify(execFile);

export interface RedisServer {
  /** redis://[:password@]127.0.0.1:<port> */
  url: string;
  port: number;
  /** SIGTERM and wait for exit; the data directory (and its AOF) stays for restart(). */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
  /** Stop if running, then start again on the same port and data directory. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open but answers nothing (a hung host). */
  pause(): Promise<void>;
  /** SIGCONT after pause(). */
  resume(): Promise<void>;
  /** Stop and delete the data directory. */
  dispose(): Promise<void>;
}

export interface RedisServerOptions {
  /** requirepass */
  password?: string;
  /** A one-node Redis Cluster that owns every slot (cross-slot commands are refused as on a real one). */
  cluster?: boolean;
}

/** Runs `redis-cli` against 127.0.0.1:port; resolves its trimmed stdout, rejects when it fails. */
export async function redisCli(port: number, args: string[], password?: string): Promise<string> {
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  const { stdout } = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args], { timeout: 5000 });
  return stdout.trim();
}

/**
 * Starts Debian's redis-server on a free loopback port, AOF on (so restart() keeps the data, as in
 * production), and resolves once it answers PING. Rejects with the server's output when it
 * cannot start. The process is killed and its directory removed when the test process exits.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const tmp = await tempDir('redis');
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'yes', '--dir', tmp.dir, '--daemonize', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  if (options.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1');
  const handle = spawnManaged(REDIS_SERVER, args, tmp.dir, `redis-server :${port}`);

  async function start(): Promise<void> {
    await handle.start(() => redisCli(port, ['PING'], options.password).then((r) => r === 'PONG'));
  }

  await start();
  if (options.cluster) {
    // nodes.conf keeps the slot assignment across restart().
    await redisCli(port, ['CLUSTER', 'ADDSLOTSRANGE', '0', '16383'], options.password);
    await waitFor('cluster_state:ok', async () => (await redisCli(port, ['CLUSTER', 'INFO'], options.password)).includes('cluster_state:ok'));
  }

  return {
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`,
    port,
    stop: () => handle.signal('SIGTERM'),
    kill: () => handle.signal('SIGKILL'),
    pause: async () => handle.send('SIGSTOP'),
    resume: async () => handle.send('SIGCONT'),
    async restart() {
      await handle.signal('SIGTERM');
      await start();
    },
    async dispose() {
      await handle.signal('SIGTERM');
      await tmp.remove();
    },
  };
}

export interface SentinelServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts one Redis Sentinel on a free loopback port watching 127.0.0.1:masterPort as `name`. */
export async function startSentinel(masterPort: number, name: string): Promise<SentinelServer> {
  const port = await freePort();
  const tmp = await tempDir('sentinel');
  const conf = join(tmp.dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it must be a writable file of its own.
  await writeFile(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${tmp.dir}`, `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, ''].join('\n'));
  const handle = spawnManaged(REDIS_SERVER, [conf, '--sentinel'], tmp.dir, `redis-sentinel :${port}`);
  await handle.start(async () => (await redisCli(port, ['SENTINEL', 'get-master-addr-by-name', name])).includes(String(masterPort)));
  return {
    port,
    async stop() {
      await handle.signal('SIGTERM');
      await tmp.remove();
    },
  };
}

// Servers must not outlive the test process, even one stopped by a signal (a timeout, Ctrl-C),
// which skips 'exit' handlers unless the signal is caught.
const cleanups = new Set<() => void>();
function cleanUpAll(): void {
  for (const cleanup of cleanups) cleanup();
  cleanups.clear();
}
process.once('exit', cleanUpAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    cleanUpAll();
    process.kill(process.pid, sig); // the listener is gone: now the default action ends the process
  });
}

/** A child process that can be started, waited for and signalled; killed if the test process exits. */
function spawnManaged(command: string, args: string[], dir: string, what: string) {
  let child: ChildProcess | undefined;
  let output = '';
  cleanups.add(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function exited(c: ChildProcess): boolean {
    return c.exitCode !== null || c.signalCode !== null;
  }

  return {
    async start(ready: () => Promise<boolean>): Promise<void> {
      output = '';
      const c = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      // Keep only the tail: enough to say why it failed to start.
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
      };
      c.stdout?.on('data', keep);
      c.stderr?.on('data', keep);
      const early = new Promise<never>((_, reject) => {
        c.once('exit', (code, sig) => reject(new Error(`exited (${code ?? sig})`)));
      });
      early.catch(() => {}); // a later exit is not a failed start
      try {
        await Promise.race([waitFor(what, ready), early]);
      } catch (err) {
        c.kill('SIGKILL');
        throw new Error(`${what} did not start: ${(err as Error).message}\n${output}`);
      }
      if (exited(c)) throw new Error(`${what} exited during start:\n${output}`);
    },
    /** Send a signal without waiting for anything. */
    send(sig: NodeJS.Signals): void {
      if (child && !exited(child)) child.kill(sig);
    },
    /** Send a terminating signal and wait for the exit. */
    async signal(sig: NodeJS.Signals): Promise<void> {
      const c = child;
      if (!c || exited(c)) return;
      // A paused process would not act on SIGTERM until continued.
      c.kill('SIGCONT');
      const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill(sig);
      await gone;
    },
  };
}

/**
 * Run `body` while recording the name of every command `client` sends (a script call is one
 * `evalsha`): how many round trips an operation costs. `body` may empty the list between steps.
 */
export async function recordingCommands(client: { sendCommand: (...args: never[]) => unknown }, body: (sent: string[]) => Promise<void>): Promise<void> {
  const sent: string[] = [];
  const original = client.sendCommand;
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    sent.push(command.name);
    return (original as (...args: unknown[]) => unknown).call(client, command, ...rest);
  }) as typeof client.sendCommand;
  try {
    await body(sent);
  } finally {
    client.sendCommand = original;
  }
}
