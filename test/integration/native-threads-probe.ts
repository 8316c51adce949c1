// Run by native-threads.test.ts in a process of its own, under pam_wrapper and nss_wrapper (they
// must be preloaded at start). PROBE_SERVICE is a PAM service whose failures take about a second.
// Prints one JSON line of what it saw; the test judges it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PamOutcome } from '../../src/native/binding.js';
import { createNativePool, PoolError, type NativePool } from '../../src/native/native-pool.js';

const service = process.env.PROBE_SERVICE!;
const username = process.env.PROBE_USER!;
const rightPassword = process.env.PROBE_PASSWORD!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const osThreads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const since = (t0: number) => Math.round(performance.now() - t0);
const bytes = (s: string) => new TextEncoder().encode(s);
const login = (pool: NativePool, password: Uint8Array) => pool.run<PamOutcome>({ op: 'pamLogin', service, username, password, rhost: '127.0.0.1' });
const kindOf = (err: unknown) => (err instanceof PoolError ? err.kind : String(err));

async function calls(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};

  // The event loop keeps turning while a thread sits in PAM's failure delay.
  {
    const pool = createNativePool({ name: 'pam', threads: 4, maxQueue: 10, timeoutMs: 10_000 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const t0 = performance.now();
    const outcome = await login(pool, bytes('not-the-password'));
    clearInterval(timer);
    out.loop = { codeName: outcome.codeName, ms: since(t0), ticks };
  }

  // Four slow logins on two threads: two run, two wait, and the process never has more than two extra threads.
  {
    const pool = createNativePool({ name: 'pam', threads: 2, maxQueue: 10, timeoutMs: 10_000 });
    const base = osThreads();
    let peak = base;
    let maxRunning = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, osThreads());
      maxRunning = Math.max(maxRunning, pool.stats().running);
    }, 10);
    const t0 = performance.now();
    const pending = Array.from({ length: 4 }, () => login(pool, bytes('not-the-password')));
    const atStart = pool.stats();
    const outcomes = await Promise.all(pending);
    clearInterval(sampler);
    out.bound = { codeNames: outcomes.map((o) => o.codeName), ms: since(t0), atStart, maxRunning, extraThreads: peak - base };
  }

  // A call slower than timeoutMs: the caller hears 'timeout', the thread holds its place until PAM
  // returns, its late result is dropped, and the pool serves the next call.
  {
    const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 10, timeoutMs: 250 });
    const t0 = performance.now();
    const kind = await login(pool, bytes('not-the-password')).then(() => 'answered', kindOf);
    const timedOutMs = since(t0);
    const heldAfterTimeout = pool.stats().running;
    while (pool.stats().running > 0) await sleep(10);
    const freedMs = since(t0);
    const next = await login(pool, bytes(rightPassword));
    out.timeout = { kind, timedOutMs, heldAfterTimeout, freedMs, next: next.codeName };
  }

  // The pool zero-fills the password as soon as the addon has its copy; PAM still got the bytes.
  {
    const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 10, timeoutMs: 10_000 });
    const password = bytes(rightPassword);
    const pending = login(pool, password);
    const zeroedAtOnce = password.every((b) => b === 0);
    out.password = { zeroedAtOnce, codeName: (await pending).codeName };
  }

  // NSS through nss_wrapper.
  {
    const pool = createNativePool({ name: 'nss', threads: 2, maxQueue: 10, timeoutMs: 5000 });
    const user = await pool.run<{ name: string; uid: number; gid: number } | null>({ op: 'getUser', name: username });
    const groups = user ? await pool.run<string[]>({ op: 'getGroups', name: user.name, gid: user.gid }) : [];
    out.nss = { user, groups };
  }
  return out;
}

/** Time a slow call out, then let the process end while its thread is still inside PAM. */
async function exitWhileBlocked(): Promise<void> {
  const pool = createNativePool({ name: 'pam', threads: 1, maxQueue: 10, timeoutMs: 100 });
  const kind = await login(pool, bytes('not-the-password')).then(() => 'answered', kindOf);
  process.on('exit', () => console.log(JSON.stringify({ kind, blockedAtExit: pool.stats().running })));
}

/** A Worker loads the addon, starts slow calls and is terminated while they are blocked. */
async function workerEndsWhileBlocked(): Promise<void> {
  const addon = fileURLToPath(new URL('../../build/Release/unixid_native.node', import.meta.url));
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const b = require(${JSON.stringify(addon)});
     for (let i = 0; i < 3; i++) b.pamLoginAsync(${JSON.stringify(service)}, ${JSON.stringify(username)}, Buffer.from('not-the-password'), '', () => {});
     b.getUserAsync(${JSON.stringify(username)}, () => {});
     parentPort.postMessage('started');
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  await new Promise((r) => worker.once('message', r));
  const t0 = performance.now();
  await worker.terminate();
  const terminatedMs = since(t0);
  await sleep(2000); // longer than any failure delay: every blocked thread has returned by now
  console.log(JSON.stringify({ terminatedMs, alive: true }));
}

const scenario = process.argv[2];
if (scenario === 'calls') console.log(JSON.stringify(await calls()));
else if (scenario === 'exit') await exitWhileBlocked();
else if (scenario === 'worker') await workerEndsWhileBlocked();
else throw new Error(`unknown scenario ${scenario}`);
