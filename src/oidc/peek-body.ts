import type { IncomingMessage } from 'node:http';

/**
 * oidc-provider's own limit on form and JSON bodies (lib/shared/selective_body.js). A body that
 * declares more is left unread here, for oidc-provider to refuse as it always has.
 */
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** The body could not be read: larger than the limit, shorter than declared, or the client went away. */
export class BodyReadError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`request body: ${detail}`, options);
    this.name = 'BodyReadError';
  }
}

/**
 * Reads a request body and leaves it for the next reader, oidc-provider, which parses its bodies
 * itself. A body with a Content-Length is read up to that length and no further, so the stream has
 * not ended, and its bytes are put back with `unshift`: oidc-provider then reads the very stream,
 * with its own length checks. A chunked body can only be known whole once the stream has ended,
 * and then the bytes become `req.body`, which oidc-provider takes as an upstream parser's result
 * (it parses a Buffer with the same querystring.parse; it prints a one-time notice when it does).
 *
 * Resolves the bytes; resolves undefined without reading anything when the declared length is over
 * `limit` or the stream was already read. Rejects with BodyReadError when the body turns out larger
 * than `limit` or shorter than declared, or the request fails while being read.
 */
export async function peekBody(req: IncomingMessage, limit = PROVIDER_BODY_LIMIT): Promise<Buffer | undefined> {
  if (!req.readable || req.readableEncoding) return undefined;
  const header = req.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && !(Number.isInteger(declared) && declared <= limit)) return undefined;
  if (declared === 0) return Buffer.alloc(0);

  const chunks: Buffer[] = [];
  let received = 0;
  try {
    // destroyOnReturn: false, so that stopping at the declared length leaves the request usable.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      received += chunk.length;
      if (received > limit) throw new BodyReadError(`more than ${limit} bytes`);
      if (declared !== undefined && received >= declared) break;
    }
  } catch (err) {
    if (err instanceof BodyReadError) throw err;
    throw new BodyReadError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (declared !== undefined && received !== declared) throw new BodyReadError(`${received} bytes where ${declared} were declared`);

  const body = Buffer.concat(chunks, received);
  // Only promise callbacks ran since the last chunk was read, and a stream emits 'end' from a
  // nextTick, which waits for them: unless it had to be read to its end (no Content-Length), the
  // stream has not ended and takes the bytes back.
  if (!req.readableEnded) req.unshift(body);
  else (req as IncomingMessage & { body?: unknown }).body = body;
  return body;
}
