import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import express, { Router } from 'express';
import { pino } from 'pino';
import { guardRoute } from '../../src/kubernetes/routes.js';
import { createListener, isSecure, requireClientCert, type Listener } from '../../src/server/listen.js';
import { freePort, waitFor } from '../harness/ports.js';
import { tempDir } from '../harness/tmp.js';

const run = promisify(execFile);

let tmp: { dir: string; remove: () => Promise<void> };
let caPem: Buffer;

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: tmp.dir });
}

/** A P-256 key and a certificate for 127.0.0.1 signed by the test CA, with the given serial. */
async function issue(name: string, serial: string, extensions: string): Promise<void> {
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  await openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
  await writeFile(join(tmp.dir, `${name}.ext`), extensions);
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

/** Points `link` at `target` the way Kubernetes Secret volumes do: a new symlink renamed over the old. */
async function swapLink(link: string, target: string): Promise<void> {
  const staging = `${link}.tmp-${Date.now()}`;
  await symlink(target, staging);
  await rename(staging, link);
}

/** A logger whose JSON lines the test can read. */
function captureLogger() {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  stream.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function start(listener: Listener): Promise<number> {
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    listener.server.once('error', reject);
    listener.server.listen(port, '127.0.0.1', () => resolve());
  });
  return port;
}

async function stop(listener: Listener): Promise<void> {
  listener.close();
  await new Promise<void>((resolve) => listener.server.close(() => resolve()));
  listener.server.closeAllConnections();
}

/** One request on a fresh connection; the status, body and the serial of the certificate served. */
function get(port: number, path: string, client?: { cert: Buffer; key: Buffer }): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, ca: caPem, agent: false, ...(client ?? {}) },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  tmp = await tempDir('tls');
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  await openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=unixid test CA', '-days', '2', '-sha256', '-out', 'ca.pem');
  await issue('server-a', '0x1001', SERVER_EXT);
  await issue('server-b', '0x2002', SERVER_EXT);
  await issue('client', '0x3003', CLIENT_EXT);
  caPem = await readFile(join(tmp.dir, 'ca.pem'));
});

after(async () => {
  await tmp?.remove();
});

describe('TLS listener', () => {
  it('serves plain HTTP without tls options', () => {
    const { logger } = captureLogger();
    const l = createListener({ logger }, (_req, res) => res.end());
    assert.equal(l.scheme, 'http');
    l.close();
  });

  it('refuses to start with a key that does not match the certificate', () => {
    const { logger } = captureLogger();
    assert.throws(
      () =>
        createListener(
          { logger, tls: { certFile: join(tmp.dir, 'server-a.pem'), keyFile: join(tmp.dir, 'server-b.key'), reloadIntervalMs: 1000 } },
          (_req, res) => res.end(),
        ),
      /does not match/,
    );
  });

  it('picks up replaced certificate files without a restart, and keeps the old one when the new pair is broken', async () => {
    const live = join(tmp.dir, 'live');
    await mkdir(live);
    const certFile = join(live, 'tls.crt');
    const keyFile = join(live, 'tls.key');
    await swapLink(certFile, join(tmp.dir, 'server-a.pem'));
    await swapLink(keyFile, join(tmp.dir, 'server-a.key'));

    const { logger, lines } = captureLogger();
    const listener = createListener({ logger, tls: { certFile, keyFile, reloadIntervalMs: 100 } }, (req, res) => {
      res.end(isSecure(req) ? 'secure' : 'plain');
    });
    assert.equal(listener.scheme, 'https');
    const port = await start(listener);
    try {
      const first = await get(port, '/');
      assert.equal(first.status, 200);
      assert.equal(first.body, 'secure');
      assert.equal(first.serial, '1001');

      // cert-manager / Secret volume style: both links swapped to the second pair.
      await swapLink(certFile, join(tmp.dir, 'server-b.pem'));
      await swapLink(keyFile, join(tmp.dir, 'server-b.key'));
      await waitFor('the new certificate', async () => (await get(port, '/')).serial === '2002', 5000, 100);
      assert.ok(lines.some((l) => l.msg === 'TLS certificate reloaded' && l.serial === '2002'));

      // A key that is not the certificate's: the served certificate must not change.
      const broken = join(tmp.dir, 'broken.key');
      await writeFile(broken, await readFile(join(tmp.dir, 'server-a.key')));
      await swapLink(keyFile, broken);
      await waitFor('the reload failure to be logged', async () => lines.some((l) => l.msg?.toString().includes('reload failed')), 5000, 100);
      const failure = lines.find((l) => String(l.msg).includes('reload failed'));
      assert.match(String(failure?.reason), /does not match/);
      assert.equal((await get(port, '/')).serial, '2002', 'the previous certificate is still served');

      // Garbage in the key file: still the old certificate, and the reason is logged once per content.
      await writeFile(broken, 'not a key\n');
      await waitFor('the garbage key to be reported', async () => lines.some((l) => /not a valid PEM private key/.test(String(l.reason))), 5000, 100);
      await new Promise((r) => setTimeout(r, 350));
      assert.equal(lines.filter((l) => /not a valid PEM private key/.test(String(l.reason))).length, 1, 'a broken pair is reported once, not on every poll');
      assert.equal((await get(port, '/')).serial, '2002');

      // Fixed again: the good pair is taken.
      await swapLink(keyFile, join(tmp.dir, 'server-b.key'));
      await swapLink(certFile, join(tmp.dir, 'server-a.pem'));
      await swapLink(keyFile, join(tmp.dir, 'server-a.key'));
      await waitFor('recovery to the first certificate', async () => (await get(port, '/')).serial === '1001', 5000, 100);
    } finally {
      await stop(listener);
    }
  });

  it('verifies client certificates against clientCaFile, enforced only by requireClientCert()', async () => {
    const { logger, lines } = captureLogger();
    const app = express();
    app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
    app.post('/authenticate', requireClientCert({ logger }), (req, res) => {
      res.json({ authorized: (req.socket as TLSSocket).authorized, secure: isSecure(req) });
    });
    app.get('/authenticate', requireClientCert({ logger }), (req, res) => {
      res.json({ authorized: (req.socket as TLSSocket).authorized, secure: isSecure(req) });
    });
    const listener = createListener(
      {
        logger,
        tls: {
          certFile: join(tmp.dir, 'server-a.pem'),
          keyFile: join(tmp.dir, 'server-a.key'),
          clientCaFile: join(tmp.dir, 'ca.pem'),
          reloadIntervalMs: 1000,
        },
      },
      app as unknown as http.RequestListener,
    );
    const port = await start(listener);
    try {
      const client = { cert: await readFile(join(tmp.dir, 'client.pem')), key: await readFile(join(tmp.dir, 'client.key')) };
      const withCert = await get(port, '/authenticate', client);
      assert.equal(withCert.status, 200);
      assert.deepEqual(JSON.parse(withCert.body), { authorized: true, secure: true });

      const without = await get(port, '/authenticate');
      assert.equal(without.status, 401);
      assert.deepEqual(JSON.parse(without.body), { error: 'client certificate required' });
      assert.ok(lines.some((l) => l.msg === 'client certificate required'));

      // A certificate from another CA is presented but not authorized.
      const stranger = { cert: await readFile(join(tmp.dir, 'server-b.pem')), key: await readFile(join(tmp.dir, 'server-b.key')) };
      await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'self.key', '-subj', '/CN=self', '-days', '1', '-out', 'self.pem');
      const selfSigned = { cert: await readFile(join(tmp.dir, 'self.pem')), key: await readFile(join(tmp.dir, 'self.key')) };
      assert.equal((await get(port, '/authenticate', selfSigned)).status, 401);
      // server-b is signed by the CA but has no clientAuth usage: OpenSSL rejects it for a client.
      assert.equal((await get(port, '/authenticate', stranger)).status, 401);

      // Other routes still answer without a certificate (browsers, probes).
      assert.equal((await get(port, '/healthz')).status, 200);
    } finally {
      await stop(listener);
    }
  });

  it('a guarded route needs the certificate under every spelling its router answers (case, trailing slash)', async () => {
    const { logger } = captureLogger();
    const policy = Router();
    policy.all('/authorize', (_req, res) => res.json({ decided: true }));
    const app = express();
    app.use(guardRoute('/authorize', policy, requireClientCert({ logger })));
    app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
    const listener = createListener(
      { logger, tls: { certFile: join(tmp.dir, 'server-a.pem'), keyFile: join(tmp.dir, 'server-a.key'), clientCaFile: join(tmp.dir, 'ca.pem'), reloadIntervalMs: 1000 } },
      app as unknown as http.RequestListener,
    );
    const port = await start(listener);
    try {
      const client = { cert: await readFile(join(tmp.dir, 'client.pem')), key: await readFile(join(tmp.dir, 'client.key')) };
      for (const path of ['/authorize', '/Authorize', '/AUTHORIZE', '/authorize/', '/Authorize/?x=1']) {
        const without = await get(port, path);
        assert.equal(without.status, 401, `${path} without a certificate`);
        const withCert = await get(port, path, client);
        assert.equal(withCert.status, 200, `${path} with a certificate`);
        assert.deepEqual(JSON.parse(withCert.body), { decided: true });
      }
      assert.equal((await get(port, '/healthz')).status, 200, 'other routes need none');
    } finally {
      await stop(listener);
    }
  });
});
