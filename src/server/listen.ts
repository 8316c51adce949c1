import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { MessageClasses } from '../web/app-messages.js';

export interface ListenerTls {
  certFile: string;
  keyFile: string;
  /** Ask clients for a certificate and verify it against this CA (only requireClientCert() enforces it). */
  clientCaFile?: string | undefined;
  reloadIntervalMs: number;
}

/** The listener TLS settings of `server.tls`, or undefined when it serves plain HTTP. */
export function listenerTlsOf(tls: { certFile?: string | undefined; keyFile?: string | undefined; clientCaFile?: string | undefined; reloadIntervalMs: number }): ListenerTls | undefined {
  return tls.certFile && tls.keyFile ? { certFile: tls.certFile, keyFile: tls.keyFile, clientCaFile: tls.clientCaFile, reloadIntervalMs: tls.reloadIntervalMs } : undefined;
}

export interface ListenerOptions {
  tls?: ListenerTls | undefined;
  logger: Logger;
  /** The classes requests and responses are built from (node:http's own when absent). */
  messages?: MessageClasses | undefined;
}

export interface Listener {
  /** Not yet listening: the caller calls listen() and later close() on it. */
  server: http.Server | https.Server;
  scheme: 'http' | 'https';
  /** Stop watching the certificate files (the server itself is closed by its owner). */
  close(): void;
}

interface Material {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** Hash of all three files, to notice a change without comparing buffers. */
  digest: string;
}

// Applied to every secure context, the first and each reloaded one, so a reload never weakens them.
const BASE_CONTEXT = { minVersion: 'TLSv1.2' } as const;

function digestOf(parts: Array<Buffer | undefined>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p ?? '').update('\0');
  return h.digest('hex');
}

/** The certificate's identity for logs: serial, subject, expiry. */
function describeCert(cert: Buffer): { serial: string; subject: string; validTo: string } {
  const x = new X509Certificate(cert);
  return { serial: x.serialNumber, subject: x.subject.replace(/\n/g, ', '), validTo: x.validTo };
}

/** Throws with the reason when the key is not the private key of the (first) certificate. */
function checkPair(m: Material): void {
  let x: X509Certificate;
  try {
    x = new X509Certificate(m.cert);
  } catch (err) {
    throw new Error(`certificate is not a valid PEM certificate: ${(err as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(m.key);
  } catch (err) {
    throw new Error(`key is not a valid PEM private key: ${(err as Error).message}`);
  }
  if (!x.checkPrivateKey(key)) throw new Error('key does not match the certificate');
}

function contextOptions(m: Material): https.ServerOptions {
  return { ...BASE_CONTEXT, cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) };
}

/**
 * An HTTP server, or an HTTPS server whose certificate is reloaded from its files without a restart.
 * Throws at once if the initial certificate, key or client CA cannot be read or do not match; a
 * later broken pair is logged and the previous certificate stays in use.
 */
export function createListener(options: ListenerOptions, app: http.RequestListener): Listener {
  const { tls, logger } = options;
  const messages = options.messages ?? {};
  if (!tls) return { server: http.createServer(messages, app), scheme: 'http', close() {} };

  const readSync = (): Material => {
    const cert = readFileSync(tls.certFile);
    const key = readFileSync(tls.keyFile);
    const ca = tls.clientCaFile ? readFileSync(tls.clientCaFile) : undefined;
    return { cert, key, ...(ca ? { ca } : {}), digest: digestOf([cert, key, ca]) };
  };
  const initial = readSync();
  checkPair(initial);

  const server = https.createServer(
    {
      ...messages,
      ...contextOptions(initial),
      // Asking (not requiring) keeps browsers and health probes working without a certificate;
      // requireClientCert() enforces it on the webhook route only.
      ...(tls.clientCaFile ? { requestCert: true, rejectUnauthorized: false } : {}),
    },
    app,
  );
  logger.info({ ...describeCert(initial.cert), certFile: tls.certFile, mutualTls: Boolean(tls.clientCaFile) }, 'serving HTTPS');

  let current = initial.digest;
  // The digest of a pair that failed, so a file left broken is reported once, not every interval.
  let lastFailed: string | undefined;
  let busy = false;

  const check = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      let m: Material;
      try {
        // Contents, not mtimes or fs.watch: cert-manager and Kubernetes Secret volumes replace the
        // files through a symlink swap, which inotify on the old path never sees.
        const [cert, key, ca] = await Promise.all([
          readFile(tls.certFile),
          readFile(tls.keyFile),
          tls.clientCaFile ? readFile(tls.clientCaFile) : Promise.resolve(undefined),
        ]);
        m = { cert, key, ...(ca ? { ca } : {}), digest: digestOf([cert, key, ca]) };
      } catch (err) {
        const reason = `cannot read: ${(err as Error).message}`;
        if (lastFailed !== reason) logger.error({ certFile: tls.certFile, keyFile: tls.keyFile, reason }, 'TLS certificate reload failed; keeping the current certificate');
        lastFailed = reason;
        return;
      }
      if (m.digest === current || m.digest === lastFailed) return;
      try {
        checkPair(m);
        server.setSecureContext(contextOptions(m));
      } catch (err) {
        // Often transient: a writer that replaces cert and key one after the other is seen mid-way.
        logger.error({ certFile: tls.certFile, keyFile: tls.keyFile, reason: (err as Error).message }, 'TLS certificate reload failed; keeping the current certificate');
        lastFailed = m.digest;
        return;
      }
      current = m.digest;
      lastFailed = undefined;
      logger.info({ ...describeCert(m.cert), certFile: tls.certFile }, 'TLS certificate reloaded');
    } finally {
      busy = false;
    }
  };

  const timer = setInterval(() => void check(), tls.reloadIntervalMs);
  timer.unref();
  return { server, scheme: 'https', close: () => clearInterval(timer) };
}

/**
 * Answers 401 JSON unless the connection presented a client certificate that the configured
 * client CA verified. Mount it in front of the TokenReview webhook only.
 */
export function requireClientCert(options: { logger?: Logger } = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.encrypted && socket.authorized === true) {
      next();
      return;
    }
    const reason = !socket.encrypted ? 'not a TLS connection' : String(socket.authorizationError ?? 'no client certificate');
    options.logger?.warn({ path: req.path, ip: req.ip, reason }, 'client certificate required');
    res.status(401).set('Cache-Control', 'no-store').json({ error: 'client certificate required' });
  };
}

/**
 * Whether the request reached unixid over TLS: express's req.secure when available (it honours a
 * trusted proxy's X-Forwarded-Proto), else the socket itself. Never throws.
 */
export function isSecure(req: http.IncomingMessage): boolean {
  const secure = (req as Partial<Request>).secure;
  if (typeof secure === 'boolean') return secure;
  return Boolean((req.socket as Partial<TLSSocket>).encrypted);
}
