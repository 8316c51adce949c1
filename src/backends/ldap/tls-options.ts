import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { LdapConfig } from '../../config/sections/ldap.js';

/** CA, client certificate and verification settings, read once at start-up. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  serverName?: string;
}

/** Read the files named in `ldap.tls`. Throws an Error naming the key and file that could not be read. */
export function loadTlsMaterial(tls: LdapConfig['tls']): TlsMaterial {
  const read = (key: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`ldap.tls.${key}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const material: TlsMaterial = { rejectUnauthorized: tls.rejectUnauthorized };
  const ca = read('caFile', tls.caFile);
  const cert = read('certFile', tls.certFile);
  const key = read('keyFile', tls.keyFile);
  if (ca) material.ca = ca;
  if (cert) material.cert = cert;
  if (key) material.key = key;
  if (tls.serverName) material.serverName = tls.serverName;
  return material;
}

/**
 * Node TLS options for a connection to `host`. The certificate is checked against `serverName` when
 * configured, else against the URL host (an IP address must then be in the certificate's SANs);
 * SNI is only sent for names, as Node refuses IP addresses there. The host itself is not put into
 * the options: for ldaps:// Node would let it override the address ldapts connects to.
 */
export function tlsOptionsFor(host: string, material: TlsMaterial): ConnectionOptions {
  const expected = material.serverName ?? host;
  const options: ConnectionOptions = {
    rejectUnauthorized: material.rejectUnauthorized,
    checkServerIdentity: (_name, cert) => checkServerIdentity(expected, cert),
  };
  if (!isIP(expected)) options.servername = expected;
  if (material.ca) options.ca = material.ca;
  if (material.cert) options.cert = material.cert;
  if (material.key) options.key = material.key;
  return options;
}
