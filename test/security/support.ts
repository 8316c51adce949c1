// Shared by the security suites: the config they run unixid with, raw HTTP for inputs that fetch
// would refuse or normalise, JWTs signed with the server's own key, and the "still alive, never a
// 5xx, never a stack" checks every suite ends with.
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { link, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { UnixidProcess } from '../harness/unixid.js';

/**
 * What a stack trace or an internal path looks like in a response body. The pages show a request id
 * and a safe message; none of this may reach a client.
 */
const STACK_SIGNS = [/\n\s+at [^\n]*:\d+:\d+/, /node_modules\//, /\/work\/main\//, /\bsrc\/[a-z/-]+\.ts\b/, /\b(TypeError|ReferenceError|RangeError|SyntaxError): /];

/** Fails when `body` carries a stack trace, a source path or a raw JS error name. */
export function assertNoStack(body: string, what: string): void {
  for (const sign of STACK_SIGNS) assert.doesNotMatch(body, sign, `${what}: the body leaks internals (${sign})`);
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP/1.1 request with the path sent byte for byte (fetch would resolve `..` and refuse some
 * methods and headers). Resolves whatever the server answers; rejects only when the connection fails.
 */
export function rawRequest(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  const base = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {}, timeout: 20_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/**
 * Write raw bytes on a fresh TCP connection and resolve the status line's code of what comes back
 * (0 when the server just closes). For requests that are not valid HTTP at all.
 */
export function rawBytes(url: string, bytes: string | Buffer, waitMs = 5000): Promise<{ status: number; text: string }> {
  const base = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(base.port), base.hostname);
    let text = '';
    const done = () => {
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      // One response is all we want; stop as soon as its head is complete.
      if (text.includes('\r\n\r\n')) {
        clearTimeout(timer);
        done();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** The signing key unixid generated into its data dir on first start (development mode). */
export interface ServerKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as PEM text: what an HS256-with-the-public-key forgery uses as its secret. */
  publicPem: string;
}

/** Read `<dataDir>/signing-keys.json` (a JWK set); rejects when there is no RSA key in it. */
export async function readServerKey(dataDir: string): Promise<ServerKey> {
  const set = JSON.parse(await readFile(join(dataDir, 'signing-keys.json'), 'utf8')) as { keys: Array<Record<string, unknown>> };
  const jwk = set.keys.find((k) => k.kty === 'RSA');
  if (!jwk) throw new Error('no RSA key in signing-keys.json');
  const privateKey = createPrivateKey({ key: jwk as never, format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  return { kid: String(jwk.kid), alg: String(jwk.alg ?? 'RS256'), privateKey, publicKey, publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * A compact JWS over `header` and `payload` (objects, or raw strings used as the segment text):
 * RS256 with an RSA key, HS256 with a string/Buffer secret, an empty signature for `alg: none`.
 */
export function signJwt(header: Record<string, unknown> | string, payload: Record<string, unknown> | string, key: KeyObject | string | Buffer | null): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (key === null) return `${input}.`;
  if (typeof key === 'string' || Buffer.isBuffer(key)) return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** POST a TokenReview as kube-apiserver does; resolves the status and parsed body (undefined when not JSON). */
export async function tokenReview(url: string, token: string, apiVersion = 'authentication.k8s.io/v1') {
  const res = await fetch(`${url}/authenticate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token }, status: {} }),
  });
  const text = await res.text();
  let body: { status?: { authenticated?: boolean; error?: string; user?: { username: string; groups?: string[] } } } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  return { status: res.status, text, body };
}

/**
 * Resolve once every line the server logged before this call is in `server.logs`. unixid writes its
 * log asynchronously, so a response can arrive before the lines about it: a marker request is sent
 * and its access-log line awaited (lines arrive in order). Rejects after 5 s.
 */
export async function logsSettled(server: UnixidProcess): Promise<void> {
  const id = `settle-${randomUUID()}`;
  await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': id } });
  await server.waitForLog(new RegExp(`"reqId":"${id}"`), 5000);
}

/** The log entries of one request, once its access-log line (its last) has arrived. Rejects after 5 s. */
export async function requestLines(server: UnixidProcess, reqId: string | null): Promise<Record<string, unknown>[]> {
  assert.ok(reqId, 'the response names its request id');
  await server.waitForLog(new RegExp(`"reqId":"${reqId}".*"msg":"request"`), 5000);
  return server.logEntries().filter((e) => e.reqId === reqId);
}

/**
 * The process is still there and well: /healthz answers 200, it has not exited, it logged nothing
 * fatal or uncaught, no request ended in a 5xx, and nothing printed a stack trace outside the JSON
 * log lines (koa prints one to stderr when an error escapes the provider).
 */
export async function assertAlive(server: UnixidProcess, options: { noErrors?: boolean } = {}): Promise<void> {
  assert.equal(server.child.exitCode, null, 'the process is still running');
  assert.equal(server.child.signalCode, null, 'the process was not killed');
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200, '/healthz answers');
  await logsSettled(server);
  const entries = server.logEntries();
  const fatal = entries.filter((e) => e.level === 'fatal' || /uncaught|unhandled/i.test(String(e.msg)));
  assert.deepEqual(fatal, [], 'no fatal or uncaught errors logged');
  if (options.noErrors) {
    // Bad input is the client's problem: nothing about it is worth an error-level line (pino level >= 50).
    const errors = entries.filter((e) => e.level === 'error');
    assert.deepEqual(errors.map((e) => `${String(e.msg)} ${String(e.path ?? e.event ?? '')}`), [], 'no error-level log lines');
  }
  const failed = entries.filter((e) => e.msg === 'request' && Number(e.status) >= 500);
  assert.deepEqual(failed, [], 'no request ended in a 5xx');
  const stray = server.logs.filter((l) => !l.startsWith('{') && /^\s+at |Error: /.test(l));
  assert.deepEqual(stray, [], 'no stack traces outside the JSON log');
}

/**
 * Make every later read of `path` by nss_wrapper hang for real: the file is replaced by a FIFO that
 * nobody writes to, so open() blocks on the reading thread (getpwnam_r then never returns). The
 * returned function puts the content back and releases the blocked readers. nss_wrapper keeps its
 * file open and reopens the path only once that file has no name left, hence the dance with a
 * second name for the FIFO.
 *
 * Give the server one NSS thread (`nss.threads: 1`) while a file hangs. nss_wrapper's files
 * backend re-reads a changed file without a lock: two threads released from the FIFO at once both
 * free and rebuild its cache, and the process dies in libnss_wrapper (a SIGSEGV, in 7 of 84 runs
 * with two threads). glibc's own NSS modules are safe to call from several threads; the test
 * library is not.
 */
export async function hangFile(path: string): Promise<() => Promise<void>> {
  const saved = await readFile(path, 'utf8');
  const fifo = `${path}.fifo`;
  const fifoName = `${path}.fifo-link`;
  execFileSync('mkfifo', [fifo]);
  await link(fifo, fifoName);
  await rename(fifo, path);
  return async () => {
    // A real file first, so no new lookup opens the FIFO; then release the threads blocked on it.
    // Non-blocking: with no reader left, opening for writing fails (ENXIO) instead of waiting forever.
    const real = `${path}.real`;
    await writeFile(real, saved);
    await rename(real, path);
    // A thread may reach the FIFO just after a release (it looked the path up before the swap):
    // keep releasing for a while, so that no thread is left blocked for good, holding whatever lock
    // nss_wrapper gave it, while the test waits for NSS to recover.
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      const writer = await open(fifoName, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
      await writer?.write(saved).catch(() => {});
      await writer?.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    await unlink(fifoName);
  };
}
