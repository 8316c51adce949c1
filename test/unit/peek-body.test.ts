import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { BodyReadError, peekBody } from '../../src/oidc/peek-body.js';

/** What the server saw: the peeked bytes, then what a second reader got from the stream and req.body. */
interface Seen {
  peeked?: string;
  error?: string;
  streamAfter: string;
  bodyAfter?: string;
}

/** Reads the rest of the stream the way oidc-provider does (only while it is readable). */
async function readRest(req: IncomingMessage): Promise<string> {
  if (!req.readable) return '';
  const chunks: Buffer[] = [];
  for await (const c of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

describe('peekBody', () => {
  let server: http.Server;
  let base: string;
  const LIMIT = 1024;

  before(async () => {
    server = http.createServer(async (req, res) => {
      const seen: Seen = { streamAfter: '' };
      try {
        const body = await peekBody(req, LIMIT);
        if (body) seen.peeked = body.toString('utf8');
        // An asynchronous step in between, as the poll gate's Redis call is.
        await sleep(10);
      } catch (err) {
        assert.ok(err instanceof BodyReadError);
        seen.error = err.message;
      }
      if (!seen.error) {
        seen.streamAfter = await readRest(req);
        const handed = (req as IncomingMessage & { body?: Buffer }).body;
        if (handed) seen.bodyAfter = handed.toString('utf8');
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** One raw request; `chunks` are written with a pause between them. */
  function send(headers: Record<string, string>, chunks: string[]): Promise<Seen> {
    const url = new URL(base);
    return new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers }, (res) => {
        const out: Buffer[] = [];
        res.on('data', (c: Buffer) => out.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as Seen));
      });
      req.on('error', reject);
      void (async () => {
        for (const [i, c] of chunks.entries()) {
          if (i > 0) await sleep(15);
          req.write(c);
        }
        req.end();
      })();
    });
  }

  it('puts a Content-Length body back into its stream, whole, for the next reader', async () => {
    for (const chunks of [['a=1&b=2'], ['grant_type=x&', 'device_code=', 'abc']]) {
      const text = chunks.join('');
      const seen = await send({ 'content-length': String(Buffer.byteLength(text)) }, chunks);
      assert.deepEqual(seen, { peeked: text, streamAfter: text }, JSON.stringify(chunks));
    }
  });

  it('hands a chunked body over as req.body once the stream has ended', async () => {
    const seen = await send({ 'transfer-encoding': 'chunked' }, ['grant_type=x&', 'device_code=abc']);
    assert.deepEqual(seen, { peeked: 'grant_type=x&device_code=abc', streamAfter: '', bodyAfter: 'grant_type=x&device_code=abc' });
  });

  it('leaves a body declared over the limit unread', async () => {
    const text = 'x'.repeat(LIMIT + 1);
    const seen = await send({ 'content-length': String(text.length) }, [text]);
    assert.deepEqual(seen, { streamAfter: text });
  });

  it('rejects a chunked body that outgrows the limit', async () => {
    const seen = await send({ 'transfer-encoding': 'chunked' }, ['x'.repeat(LIMIT), 'x']);
    assert.match(seen.error ?? '', /more than 1024 bytes/);
  });

  it('an empty body is read as empty', async () => {
    assert.deepEqual(await send({ 'content-length': '0' }, []), { peeked: '', streamAfter: '' });
  });
});
