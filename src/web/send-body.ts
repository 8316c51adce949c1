import type { ServerResponse } from 'node:http';

/**
 * Answer with a whole body, its type and length, plus `headers`, on top of those already set
 * (request id, security headers). node:http leaves the body out for HEAD. For the answers written
 * outside express (express's res.send does the same for its own).
 */
export function sendBody(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
