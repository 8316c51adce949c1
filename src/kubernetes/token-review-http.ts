import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { requestIdFrom } from '../web/request-context.js';
import { MAX_REVIEW_BYTES, type TokenReviewer } from './token-review.js';

export interface FastPathOptions {
  path: string;
  review: TokenReviewer;
  /** Require a verified client certificate (mutual TLS with kube-apiserver). */
  requireClientCert: boolean;
  /** Told about bodies refused before review (not JSON, too large), for metrics. */
  onMalformed?: () => void;
}

function send(res: ServerResponse, status: number, body: unknown, reqId: string): void {
  const text = JSON.stringify(body);
  // A flat [name, value, ...] list: node:http walks it by index instead of enumerating an object.
  res.writeHead(status, [
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(text)),
    'Cache-Control',
    'no-store',
    'X-Content-Type-Options',
    'nosniff',
    'X-Request-Id',
    reqId,
  ]);
  res.end(text);
}

/**
 * The TokenReview webhook answered straight from node:http, before express and oidc-provider see
 * the request: it sits on every uncached kubectl request, and the web stack's middleware costs
 * several times the signature check itself. Answers every method on its path (405 but for
 * POST) and returns false for every other path (the caller hands it on). Bad bodies get 400 or
 * 413 with a reason. The main port and the webhook thread both serve it.
 */
export function tokenReviewFastPath(options: FastPathOptions) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== options.path) return false;
    const reqId = requestIdFrom(req.headers['x-request-id']);
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      send(res, 405, { error: 'method not allowed: use POST' }, reqId);
      return true;
    }
    if (options.requireClientCert && !(req.socket as TLSSocket).authorized) {
      send(res, 401, { error: 'client certificate required' }, reqId);
      return true;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_REVIEW_BYTES) {
      options.onMalformed?.();
      send(res, 413, { error: 'request body too large' }, reqId);
      req.resume();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_REVIEW_BYTES) {
        refused = true;
        options.onMalformed?.();
        send(res, 413, { error: 'request body too large' }, reqId);
        return;
      }
      chunks.push(chunk);
    });
    // No 'error' listener: node:http emits a request's error only to listeners it has, and a
    // review cut off mid-body never reaches 'end', so it is simply not answered.
    req.on('end', () => {
      if (refused) return;
      let body: unknown;
      try {
        // A review nearly always arrives in one chunk: no copy then.
        body = JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
      } catch {
        options.onMalformed?.();
        send(res, 400, { error: 'body is not valid JSON' }, reqId);
        return;
      }
      const answer = options.review(body, reqId);
      if (answer instanceof Promise) void answer.then((a) => send(res, a.status, a.body, reqId));
      else send(res, answer.status, answer.body, reqId);
    });
    return true;
  };
}
