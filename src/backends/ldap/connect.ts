import * as net from 'node:net';
import * as tls from 'node:tls';
import { Client } from 'ldapts';
import { createBindResponseTap, type BindResponseTap, type ResponseControl } from './bind-response-tap.js';
import { tlsOptionsFor, type TlsMaterial } from './tls-options.js';
import { withDeadline } from '../../deadline.js';

/** How every connection is made. */
export interface ConnectSettings {
  connectTimeoutMs: number;
  timeoutMs: number;
  /** Upgrade ldap:// URLs with StartTLS. */
  startTLS: boolean;
  tls: TlsMaterial;
}

/** One client on one socket to one server. */
export interface LdapConnection {
  readonly url: string;
  readonly client: Client;
  /** Whether StartTLS or ldaps:// protects this connection. */
  readonly secure: boolean;
  /** Controls of the last BindResponse seen (only when opened with `watchBinds`); cleared by `forgetBind`. */
  lastBindControls(): ResponseControl[] | undefined;
  forgetBind(): void;
  /** Unbind and drop the socket. Never throws and never waits more than a second. */
  close(): Promise<void>;
}

const CLOSE_WAIT_MS = 1000;

/**
 * Open a connection to `url`: TCP or TLS, then StartTLS when configured. For plain ldap:// the
 * socket is only opened by the first operation, so connection errors may surface there instead.
 * Rejects with the transport error (refused, timeout, certificate) otherwise.
 *
 * The client may use exactly one socket. ldapts silently reconnects a closed client on the next
 * operation, and a StartTLS session would come back as plain text and unauthenticated; refusing
 * the second socket turns that into an error the caller handles by opening a proper connection.
 */
export async function openConnection(url: string, settings: ConnectSettings, options: { watchBinds?: boolean } = {}): Promise<LdapConnection> {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const ldaps = parsed.protocol === 'ldaps:';
  const tlsOptions = tlsOptionsFor(host, settings.tls);

  let lastControls: ResponseControl[] | undefined;
  const taps: BindResponseTap[] = [];
  const watch = (socket: net.Socket, event: 'connect' | 'secureConnect') => {
    if (!options.watchBinds) return;
    const tap = createBindResponseTap((controls) => {
      lastControls = controls;
    });
    taps.push(tap);
    // Attached when the socket is ready, in the same tick as ldapts attaches its own reader.
    socket.once(event, () => socket.on('data', (chunk: Buffer) => tap.push(chunk)));
  };

  let plainSockets = 0;
  let tlsSockets = 0;
  const createConnection = ((port: number, h: string) => {
    if (++plainSockets > 1) throw new Error(`connection to ${url} was closed; not reconnecting silently`);
    const socket = net.connect(port, h);
    watch(socket, 'connect');
    return socket;
  }) as unknown as typeof net.connect;
  const createSecureConnection = ((...args: unknown[]) => {
    if (++tlsSockets > 1) throw new Error(`TLS connection to ${url} was closed; not reconnecting silently`);
    // StartTLS hands the plain socket to TLS: from now on only ciphertext passes through it.
    for (const tap of taps) tap.stop();
    const socket = (tls.connect as (...a: unknown[]) => tls.TLSSocket)(...args);
    watch(socket, 'secureConnect');
    return socket;
  }) as unknown as typeof tls.connect;

  const client = new Client({
    url,
    timeout: settings.timeoutMs,
    connectTimeout: settings.connectTimeoutMs,
    // Only for ldaps://: ldapts connects with TLS at once whenever tlsOptions are given.
    ...(ldaps ? { tlsOptions } : {}),
    createConnection,
    createSecureConnection,
  });
  const connection: LdapConnection = {
    url,
    client,
    secure: ldaps || settings.startTLS,
    lastBindControls: () => lastControls,
    forgetBind: () => {
      lastControls = undefined;
    },
    close: () => closeQuietly(client),
  };
  if (!ldaps && settings.startTLS) {
    try {
      // ldapts does not apply connectTimeout to the TLS handshake of StartTLS, so bound it here.
      await withDeadline(client.startTLS({ ...tlsOptions }), settings.connectTimeoutMs + settings.timeoutMs, `StartTLS with ${url}`);
    } catch (err) {
      await closeQuietly(client);
      throw err;
    }
  }
  return connection;
}

async function closeQuietly(client: Client): Promise<void> {
  try {
    await withDeadline(client.unbind(), CLOSE_WAIT_MS, 'unbind');
  } catch {
    // The socket is gone or the server is gone: nothing left to release but the socket itself.
  }
  // Unbind leaves nothing behind when it works; when it did not, make sure the socket is closed.
  const socket = (client as unknown as { socket?: net.Socket }).socket;
  socket?.destroy();
}
