import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, waitFor } from './ports.js';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const MODULE_PATH = '/usr/lib/ldap';
const SCHEMA_DIR = '/etc/ldap/schema';
const FIXTURES = fileURLToPath(new URL('../fixtures/ldap/', import.meta.url));

export const BASE_DN = 'dc=example,dc=org';
export const ROOT_DN = `cn=admin,${BASE_DN}`;
export const ROOT_PASSWORD = 'root-secret';
export const SERVICE_DN = `cn=unixid,ou=services,${BASE_DN}`;
export const SERVICE_PASSWORD = 'service-secret';

/** Whether Debian's slapd and the ldap-utils the harness drives are installed. */
export function slapdAvailable(): boolean {
  return [SLAPD, SLAPADD, '/usr/bin/ldapwhoami', '/usr/bin/ldapmodify', '/usr/bin/openssl'].every((f) => existsSync(f));
}

/** Whether the ppolicy overlay can be loaded (locked/expired/reset accounts). */
export function ppolicyAvailable(): boolean {
  return existsSync(join(MODULE_PATH, 'ppolicy.la')) || existsSync(join(MODULE_PATH, 'ppolicy.so'));
}

/** Test certificates made with openssl: a CA, a server certificate for 127.0.0.1/localhost, and an unrelated CA. */
export interface TestPki {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A CA that signed nothing here: trusting only it must make TLS fail. */
  otherCaFile: string;
}

/** Generate the test PKI into `dir` (EC P-256 keys: fast). Rejects when openssl fails. */
export async function createTestPki(dir: string): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = async (name: string, cn: string) =>
    run('openssl', ['req', '-x509', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.pem`), '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await ca('ca', 'unixid test CA');
  await ca('other-ca', 'unrelated test CA');
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(
    p('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('server.pem'), '-days', '2', '-extfile', p('server.ext')]);
  return { caFile: p('ca.pem'), certFile: p('server.pem'), keyFile: p('server.key'), otherCaFile: p('other-ca.pem') };
}

export interface SlapdOptions {
  /** Load the ppolicy overlay and the locked/expired/reset accounts (default: when available). */
  ppolicy?: boolean;
  /** Serve ldaps:// and StartTLS with a fresh test PKI (default true). */
  tls?: boolean;
}

/** A throwaway slapd on loopback, seeded from test/fixtures/ldap. */
export interface Slapd {
  /** ldap://127.0.0.1:PORT (StartTLS works on it when TLS is on). */
  readonly url: string;
  /** ldaps://127.0.0.1:PORT, or '' without TLS. */
  readonly ldapsUrl: string;
  readonly pki: TestPki | undefined;
  readonly ppolicy: boolean;
  readonly dir: string;
  /** Start (again) on the same ports and database. Rejects when slapd does not answer in time. */
  start(): Promise<void>;
  /** Stop it and wait for the process to exit. */
  stop(): Promise<void>;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Apply LDIF change records (changetype: add/modify/delete/modrdn) as the rootdn. */
  modify(ldif: string): Promise<void>;
  /** Delete an entry as the rootdn. */
  remove(dn: string): Promise<void>;
  /** Move/rename an entry as the rootdn. */
  move(dn: string, newRdn: string, newSuperior?: string): Promise<void>;
  /** Stop and remove every file. */
  close(): Promise<void>;
}

function slapdConf(dir: string, pki: TestPki | undefined, ppolicy: boolean): string {
  const lines = [
    `include ${SCHEMA_DIR}/core.schema`,
    `include ${SCHEMA_DIR}/cosine.schema`,
    `include ${SCHEMA_DIR}/inetorgperson.schema`,
    `include ${SCHEMA_DIR}/nis.schema`,
    `modulepath ${MODULE_PATH}`,
    'moduleload back_mdb',
    ...(ppolicy ? ['moduleload ppolicy'] : []),
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    ...(pki ? [`TLSCACertificateFile ${pki.caFile}`, `TLSCertificateFile ${pki.certFile}`, `TLSCertificateKeyFile ${pki.keyFile}`] : []),
    'database mdb',
    `suffix "${BASE_DN}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ROOT_PASSWORD}`,
    `directory ${join(dir, 'db')}`,
    'maxsize 33554432',
    ...(ppolicy ? ['overlay ppolicy', `ppolicy_default "cn=default,ou=policies,${BASE_DN}"`, 'ppolicy_use_lockout'] : []),
    // Passwords are only ever compared; everything else is readable, anonymously too (for the anonymous-search test).
    'access to attrs=userPassword by self write by anonymous auth by * none',
    'access to * by * read',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Create, seed and start a slapd on free loopback ports. Rejects when slapd is missing, slapadd
 * refuses the seed or the server does not answer ldapwhoami within 15 s.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  if (!slapdAvailable()) throw new Error('slapd/ldap-utils/openssl are not installed (apt-get install slapd ldap-utils openssl)');
  const ppolicy = options.ppolicy ?? ppolicyAvailable();
  const tmp = await tempDir('slapd');
  const { dir } = tmp;
  const pki = options.tls === false ? undefined : await createTestPki(join(dir, 'pki'));
  await mkdir(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  await writeFile(conf, slapdConf(dir, pki, ppolicy));
  let seed = await readFile(join(FIXTURES, 'seed.ldif'), 'utf8');
  if (ppolicy) seed += `\n${await readFile(join(FIXTURES, 'ppolicy.ldif'), 'utf8')}`;
  await writeFile(join(dir, 'seed.ldif'), seed);
  await run(SLAPADD, ['-q', '-f', conf, '-l', join(dir, 'seed.ldif')]);

  const port = await freePort();
  const tlsPort = pki ? await freePort() : 0;
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = pki ? `ldaps://127.0.0.1:${tlsPort}` : '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const rootArgs = (): string[] => ['-x', '-H', url, '-D', ROOT_DN, '-w', ROOT_PASSWORD];

  const slapd: Slapd = {
    url,
    ldapsUrl,
    pki,
    ppolicy,
    dir,
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child) return;
      const listeners = [`${url}/`, ...(pki ? [`${ldapsUrl}/`] : [])].join(' ');
      // -d 0 keeps slapd in the foreground (so it is our child to stop) without debug output.
      // Running as root needs no -u: the temp directory belongs to root anyway.
      const proc = spawn(SLAPD, ['-f', conf, '-h', listeners, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
      stderr = '';
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      child = proc;
      exited = new Promise((resolve) => {
        proc.once('exit', () => {
          if (child === proc) child = undefined;
          resolve();
        });
      });
      try {
        await waitFor(
          `slapd on ${url}`,
          async () => {
            if (!child) throw new Error(`slapd exited: ${stderr}`);
            await run('ldapwhoami', ['-x', '-H', url], { timeout: 2000 });
            return true;
          },
          15_000,
          50,
        );
      } catch (err) {
        await slapd.stop();
        throw new Error(`${(err as Error).message}\nslapd stderr:\n${stderr}`);
      }
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    async modify(ldif) {
      await new Promise<void>((resolve, reject) => {
        const p = execFile('ldapmodify', rootArgs(), (err, _out, errOut) => (err ? reject(new Error(`ldapmodify failed: ${errOut || err.message}`)) : resolve()));
        p.stdin?.end(ldif);
      });
    },
    async remove(dn) {
      await slapd.modify(`dn: ${dn}\nchangetype: delete\n`);
    },
    async move(dn, newRdn, newSuperior) {
      await slapd.modify(`dn: ${dn}\nchangetype: modrdn\nnewrdn: ${newRdn}\ndeleteoldrdn: 1\n${newSuperior ? `newsuperior: ${newSuperior}\n` : ''}`);
    },
    async close() {
      await slapd.stop();
      await tmp.remove();
    },
  };
  try {
    await slapd.start();
  } catch (err) {
    await tmp.remove();
    throw err;
  }
  return slapd;
}
