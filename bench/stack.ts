import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRedis, type RedisServer } from '../test/harness/redis.js';
import { BASE_DN, SERVICE_DN, SERVICE_PASSWORD, startSlapd, type Slapd } from '../test/harness/slapd.js';
import { tempDir } from '../test/harness/tmp.js';
import { createUnixAccounts, type TestUser, type UnixAccounts } from '../test/harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../test/harness/unixid.js';
import type { Watched } from './measure.js';
import { redisPid, slapdPid } from './server-stats.js';

export const CLIENT_ID = 'kubernetes';
/** kubelogin's default loopback redirect. */
export const REDIRECT_URI = 'http://localhost:8000';
const PAM_FAILDELAY = '/usr/lib/x86_64-linux-gnu/security/pam_faildelay.so';
const PAM_MATRIX = '/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so';

export interface StackOptions {
  backend: 'pam' | 'ldap';
  /** PAM backend: the Unix accounts (pam_matrix + nss_wrapper). */
  users?: TestUser[];
  /** PAM backend: make failed authentications wait this long, as pam_unix's delay does (pam_faildelay). */
  pamFailDelayMs?: number;
  /** Config keys merged over the bench defaults (deep). */
  config?: Record<string, unknown>;
  logLevel: string;
  /** Extra environment for the server (NODE_OPTIONS=--cpu-prof...). */
  env?: Record<string, string>;
}

export interface Stack {
  server: UnixidProcess;
  url: string;
  pid: number;
  redis: RedisServer;
  redisPid: number;
  slapd?: Slapd;
  accounts?: UnixAccounts;
  dir: string;
  /** The YAML the server was started with and the environment it got (to start the same elsewhere). */
  configYaml: string;
  env: Record<string, string>;
  discovery: Discovery;
  /** unixid, redis-server and slapd (when there is one), for measure(). */
  watched(): Watched[];
  /** The last lines the server printed (the rest is dropped so a long run does not hoard them). */
  logTail(): string[];
  /** The last warnings and errors the server logged (start-up warnings included). */
  problems(): string[];
  stop(): Promise<void>;
}

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  device_authorization_endpoint: string;
}

/** Deep-merge plain objects; arrays and scalars from `over` replace. */
export function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/**
 * The bench's configuration: kubelogin's client with every grant the scenarios use, the password
 * grant and the basic-auth /token endpoint (to mint tokens quickly), and throttle limits so
 * generous that no scenario is ever banned (the storm must reach PAM).
 */
export function benchConfig(options: Pick<StackOptions, 'backend' | 'config'>, slapd?: Slapd): Record<string, unknown> {
  const base: Record<string, unknown> = {
    kubernetes: {
      passwordGrant: true,
      basicAuthToken: { enabled: true, maxSeconds: 3600 },
      // Smaller than the miss scenario's token pool, so cycling through the pool misses every time.
      webhook: { cacheMaxEntries: 512 },
    },
    clients: [
      {
        client_id: CLIENT_ID,
        client_name: 'Kubernetes',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost', 'http://127.0.0.1'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'password'],
      },
    ],
    // Every load comes from 127.0.0.1: no cap on its password checks in flight either.
    throttle: { enabled: true, username: { maxFailures: 1_000_000 }, ip: { maxFailures: 1_000_000 }, maxInFlightPerAddress: 0 },
  };
  if (options.backend === 'ldap') {
    if (!slapd) throw new Error('the LDAP backend needs a slapd');
    Object.assign(base, {
      backend: { type: 'ldap' },
      groups: { source: 'ldap' },
      ldap: {
        urls: [slapd.url],
        allowInsecure: true,
        bind: { dn: SERVICE_DN, password: SERVICE_PASSWORD },
        userSearch: { baseDn: BASE_DN },
        // One group search per login, like the bare loop it is compared with.
        groupSearch: { baseDn: `ou=groups,${BASE_DN}`, nested: false },
      },
    });
  }
  return merge(base, options.config ?? {});
}

/**
 * Bound what the harness keeps of the server's output (it keeps every line otherwise): the last
 * `keep` lines, and the last warnings and errors apart, so a failed run can say why.
 */
function trimLogs(server: UnixidProcess, keep = 200): { tail: () => string[]; problems: () => string[] } {
  const problems: string[] = [];
  let scanned = 0;
  const scan = () => {
    for (let i = scanned; i < server.logs.length; i++) {
      const line = server.logs[i]!;
      if (/"level":"(warn|error|fatal)"/.test(line)) {
        problems.push(line.slice(0, 400));
        if (problems.length > 20) problems.shift();
      }
    }
    scanned = server.logs.length;
    if (server.logs.length > keep * 5) {
      server.logs.splice(0, server.logs.length - keep);
      scanned = server.logs.length;
    }
  };
  const timer = setInterval(scan, 500);
  timer.unref();
  server.child.once('exit', () => clearInterval(timer));
  return {
    tail: () => server.logs.slice(-keep),
    problems: () => {
      scan();
      return [...problems];
    },
  };
}

/**
 * Rewrite the PAM service so that failed authentications wait `delayMs` as pam_unix's do
 * (pam_faildelay asks libpam for the delay; libpam randomises it by ±25 %), or, with 0, fail at
 * once. pam_wrapper copies the service directory when a process starts: call this before.
 */
async function setPamFailDelay(dir: string, service: string, delayMs: number): Promise<void> {
  const matrix = `${PAM_MATRIX} passdb=${join(dir, 'passdb')}`;
  const delay = delayMs > 0 ? `auth optional ${PAM_FAILDELAY} delay=${delayMs * 1000}\n` : '';
  await writeFile(join(dir, 'pam.d', service), `${delay}auth required ${matrix}\naccount required ${matrix}\n`);
}

/**
 * Start Redis, the Unix accounts or a slapd, and `unixid serve` with the bench configuration
 * (through the test harness; the compiled build with `npm start`'s node flags, as operators run
 * it). Resolves once /readyz answers 200; rejects (after stopping what did start) when anything
 * fails to come up.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const tmp = await tempDir('bench');
  const cleanups: (() => Promise<unknown>)[] = [() => tmp.remove()];
  // Once: a second stop() finds nothing left to do.
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const redis = await startRedis();
    cleanups.push(() => redis.dispose());
    let accounts: UnixAccounts | undefined;
    let slapd: Slapd | undefined;
    const env: Record<string, string> = { UNIXID_LOG_LEVEL: options.logLevel, ...options.env };
    if (options.backend === 'pam') {
      accounts = await createUnixAccounts(tmp.dir, options.users);
      if (options.pamFailDelayMs) await setPamFailDelay(tmp.dir, accounts.service, options.pamFailDelayMs);
      Object.assign(env, accounts.env, { UNIXID_PAM_SERVICE: accounts.service });
    } else {
      slapd = await startSlapd({ tls: false, ppolicy: false });
      cleanups.push(() => slapd!.close());
    }
    const configYaml = stringify(benchConfig(options, slapd));
    // Core dumps on: two bench servers died while minting (one SIGSEGV), and a core says where.
    const server = await startUnixid({ dir: tmp.dir, redisUrl: redis.url, env, configYaml, entry: 'dist', coreDumps: true });
    cleanups.push(() => server.stop());
    // The harness leaves its server running if the bench dies; do not.
    const orphaned = () => server.child.kill('SIGKILL');
    process.once('exit', orphaned);
    cleanups.push(async () => process.off('exit', orphaned));
    const logs = trimLogs(server);
    await waitReady(server.url);
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Discovery;
    const rPid = await redisPid(redis.port);
    const pid = server.child.pid!;
    return {
      server,
      url: server.url,
      pid,
      redis,
      redisPid: rPid,
      ...(slapd ? { slapd } : {}),
      ...(accounts ? { accounts } : {}),
      dir: tmp.dir,
      configYaml,
      env: { ...env, UNIXID_REDIS_URL: redis.url },
      discovery,
      watched: () => [
        { name: 'unixid', pid },
        { name: 'redis', pid: rPid },
        ...(slapd ? [{ name: 'slapd', pid: slapdPid(slapd.dir) }] : []),
      ],
      logTail: logs.tail,
      problems: logs.problems,
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Poll /readyz until 200; rejects after `timeoutMs`. */
export async function waitReady(url: string, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}/readyz not 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The path of an absolute endpoint URL from discovery. */
export function pathOf(endpoint: string): string {
  const u = new URL(endpoint);
  return u.pathname + u.search;
}
