import { readFile } from 'node:fs/promises';
import type { Client, SearchOptions, SearchResult } from 'ldapts';
import type { LdapConfig } from '../../config/sections/ldap.js';
import { BackendUnavailableError } from '../../errors.js';
import { openConnection, type LdapConnection } from './connect.js';
import { noServerAnswered, type DirectoryAccess } from './failover.js';
import { describeError, isServerFailure } from './ldap-errors.js';

/** Something that can run an LDAP search (a Client, or the service connection with failover). */
export interface Searcher {
  search(baseDn: string, options: SearchOptions): Promise<SearchResult>;
}

/**
 * The long-lived connection used for user and group searches, bound as the service account (or
 * anonymous when no bind DN is configured). It is opened on first use, re-opened and re-bound
 * when the server closed it, checked periodically, and moved back to the first server once that
 * one is healthy again.
 */
export interface ServiceConnection extends Searcher {
  /** Search with failover; LDAP result errors are thrown as they are, BackendUnavailableError when no server answers. */
  search(baseDn: string, options: SearchOptions): Promise<SearchResult>;
  /** Read the root DSE through the service connection: which server answered and how fast. Rejects like `search`. */
  check(): Promise<{ url: string; ms: number }>;
  /** Unbind, stop the health timer. Idempotent. */
  close(): Promise<void>;
}

export interface ServiceConnectionOptions extends DirectoryAccess {
  bind: LdapConfig['bind'];
  healthCheckIntervalMs: number;
}

interface Held {
  connection: LdapConnection;
  /** Whether an operation has run on it: a plain anonymous connection only connects on first use. */
  used: boolean;
}

const ROOT_DSE: SearchOptions = { scope: 'base', filter: '(objectClass=*)', attributes: ['supportedLDAPVersion'] };

/** Build the service connection; nothing is opened until the first search. Never throws. */
export function createServiceConnection(options: ServiceConnectionOptions): ServiceConnection {
  const { servers, settings, bind, logger } = options;
  let current: Held | undefined;
  let opening: Promise<Held> | undefined;
  let closed = false;
  const retiring = new Map<NodeJS.Timeout, Held>();
  const access: DirectoryAccess = options;

  /** The service password; rejects when it cannot be read or is empty (a DN with an empty password is an anonymous bind on some servers). */
  async function password(): Promise<string> {
    let secret = bind.password ?? '';
    if (bind.passwordFile !== undefined) {
      try {
        // Re-read on every reconnect so a rotated Kubernetes Secret is picked up without a restart.
        secret = (await readFile(bind.passwordFile, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new BackendUnavailableError(`cannot read ldap.bind.passwordFile ${bind.passwordFile}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (secret === '') throw new BackendUnavailableError(`the service account password for ${bind.dn} is empty (ldap.bind)`);
    return secret;
  }

  function usable(held: Held): boolean {
    const { client } = held.connection;
    if (!client.isConnected) return !held.used;
    return !bind.dn || client.isBound;
  }

  /** Stop handing out `held`, and close it once operations already running on it had their time. */
  function retire(held: Held): void {
    if (current === held) current = undefined;
    const timer = setTimeout(() => {
      retiring.delete(timer);
      void held.connection.close();
    }, settings.timeoutMs);
    timer.unref();
    retiring.set(timer, held);
  }

  async function openOn(url: string): Promise<Held> {
    const started = performance.now();
    const connection = await openConnection(url, settings);
    if (bind.dn) {
      try {
        await connection.client.bind(bind.dn, await password());
      } catch (err) {
        await connection.close();
        if (isServerFailure(err) || err instanceof BackendUnavailableError) throw err;
        // The service account itself is refused: every login would fail the same way.
        throw new BackendUnavailableError(`service account bind as ${bind.dn} at ${url} was refused: ${describeError(err)} (check ldap.bind)`, { cause: err });
      }
    }
    logger.debug({ url, bindDn: bind.dn || '(anonymous)', ms: Math.round(performance.now() - started), step: 'service connection' }, 'LDAP service connection opened');
    return { connection, used: false };
  }

  async function openFirstAvailable(): Promise<Held> {
    const failures: string[] = [];
    for (const url of servers.order()) {
      try {
        return await openOn(url);
      } catch (err) {
        if (err instanceof BackendUnavailableError) throw err;
        servers.markDead(url);
        failures.push(`${url}: ${describeError(err)}`);
        logger.warn({ url, purpose: 'service connection', err: describeError(err) }, 'LDAP server failed; backing it off and trying the next one');
      }
    }
    throw noServerAnswered(access, 'accept the service connection', failures);
  }

  async function acquire(): Promise<Held> {
    if (closed) throw new BackendUnavailableError('the LDAP backend is closed');
    if (current && usable(current)) return current;
    if (current) retire(current);
    opening ??= openFirstAvailable().finally(() => {
      opening = undefined;
    });
    const held = await opening;
    if (closed) {
      await held.connection.close();
      throw new BackendUnavailableError('the LDAP backend is closed');
    }
    current = held;
    return held;
  }

  async function run<T>(purpose: string, fn: (client: Client) => Promise<T>): Promise<{ result: T; url: string }> {
    const failures: string[] = [];
    // One more attempt than servers: the first may only find that the server closed an idle connection.
    for (let attempt = 0; attempt <= servers.urls.length; attempt++) {
      const held = await acquire();
      const { url } = held.connection;
      held.used = true;
      try {
        const result = await fn(held.connection.client);
        servers.markAlive(url);
        return { result, url };
      } catch (err) {
        if (!isServerFailure(err)) throw err;
        retire(held);
        servers.markDead(url);
        failures.push(`${url}: ${describeError(err)}`);
        logger.warn({ url, purpose, err: describeError(err) }, 'LDAP operation failed on the service connection; reconnecting');
      }
    }
    throw noServerAnswered(access, purpose, failures);
  }

  /** Periodic check: drop a broken connection, and move back to a preferred server that recovered. */
  async function healthTick(): Promise<void> {
    if (closed || opening) return;
    const held = current;
    if (!held) return;
    const preferred = servers.order()[0];
    if (preferred !== undefined && preferred !== held.connection.url && !servers.isBackedOff(preferred)) {
      try {
        const fresh = await openOn(preferred);
        if (closed || current !== held) {
          await fresh.connection.close();
          return;
        }
        logger.info({ from: held.connection.url, to: preferred }, 'LDAP service connection moved back to the preferred server');
        retire(held);
        current = fresh;
        return;
      } catch (err) {
        servers.markDead(preferred);
        logger.debug({ url: preferred, err: describeError(err) }, 'preferred LDAP server still unavailable');
      }
    }
    if (!usable(held)) return retire(held);
    try {
      held.used = true;
      await held.connection.client.search('', ROOT_DSE);
    } catch (err) {
      logger.warn({ url: held.connection.url, err: describeError(err) }, 'LDAP service connection failed its health check; it will be re-opened');
      retire(held);
    }
  }

  const timer = options.healthCheckIntervalMs > 0 ? setInterval(() => void healthTick(), options.healthCheckIntervalMs) : undefined;
  timer?.unref();

  return {
    async search(baseDn, searchOptions) {
      return (await run(`search ${baseDn || '(root)'}`, (client) => client.search(baseDn, searchOptions))).result;
    },
    async check() {
      const started = performance.now();
      const { url } = await run('read the root DSE', (client) => client.search('', ROOT_DSE));
      return { url, ms: Math.round(performance.now() - started) };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      const old = [...retiring.values()];
      for (const t of retiring.keys()) clearTimeout(t);
      retiring.clear();
      await Promise.all(old.map((h) => h.connection.close()));
      const pending = opening?.catch(() => undefined);
      const held = current;
      current = undefined;
      await held?.connection.close();
      const late = await pending;
      await late?.connection.close();
    },
  };
}
