import type { Logger } from 'pino';
import type { LdapConfig } from '../../config/sections/ldap.js';
import { BackendUnavailableError } from '../../errors.js';
import { openConnection, type ConnectSettings, type LdapConnection } from './connect.js';
import { describeError, isServerFailure } from './ldap-errors.js';
import { createServerList, type ServerList } from './server-list.js';
import { loadTlsMaterial } from './tls-options.js';

/** What every connection to the directory needs. */
export interface DirectoryAccess {
  servers: ServerList;
  settings: ConnectSettings;
  logger: Logger;
}

/** The error when no server could do `purpose`: names every URL, its failure and the timeouts. */
export function noServerAnswered(access: DirectoryAccess, purpose: string, failures: readonly string[]): BackendUnavailableError {
  const { connectTimeoutMs, timeoutMs } = access.settings;
  const tried = failures.length > 0 ? failures.join('; ') : access.servers.urls.join(', ');
  return new BackendUnavailableError(
    `no LDAP server could ${purpose} (connect timeout ${connectTimeoutMs} ms, operation timeout ${timeoutMs} ms): ${tried}`,
  );
}

/**
 * Run `fn` on a new connection of its own, trying the servers in order. A server whose connection
 * or operation fails at the transport level (or answers busy/unavailable) is backed off and the
 * next one is tried; any LDAP answer, including a refusal, is returned or thrown as it is. The
 * connection is always closed afterwards. Rejects with BackendUnavailableError when every server
 * failed.
 */
export async function withFreshConnection<T>(
  access: DirectoryAccess,
  purpose: string,
  fn: (connection: LdapConnection) => Promise<T>,
  options: { watchBinds?: boolean } = {},
): Promise<T> {
  const failures: string[] = [];
  for (const url of access.servers.order()) {
    const started = performance.now();
    let connection: LdapConnection | undefined;
    try {
      connection = await openConnection(url, access.settings, options);
      const result = await fn(connection);
      access.servers.markAlive(url);
      return result;
    } catch (err) {
      if (connection !== undefined && !isServerFailure(err)) {
        access.servers.markAlive(url);
        throw err;
      }
      access.servers.markDead(url);
      const detail = describeError(err);
      failures.push(`${url}: ${detail}`);
      access.logger.warn({ url, purpose, err: detail, ms: Math.round(performance.now() - started) }, 'LDAP server failed; backing it off and trying the next one');
    } finally {
      await connection?.close();
    }
  }
  throw noServerAnswered(access, purpose, failures);
}

/** Servers, timeouts and TLS material from the config section. Throws when a TLS file cannot be read. */
export function directoryAccessFrom(ldap: LdapConfig, logger: Logger): DirectoryAccess {
  return {
    servers: createServerList(ldap.urls, ldap.deadServerBackoffMs),
    settings: {
      connectTimeoutMs: ldap.connectTimeoutMs,
      timeoutMs: ldap.timeoutMs,
      startTLS: ldap.startTLS,
      tls: loadTlsMaterial(ldap.tls),
    },
    logger,
  };
}
