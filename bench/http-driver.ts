import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { RequestTemplate } from './load-spec.js';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends one request on a keep-alive connection; rejects on transport errors and on timeout. */
export type HttpSend = (req: RequestTemplate) => Promise<HttpAnswer>;

/**
 * A minimal HTTP/1.1 client on node:http with a keep-alive agent of `connections` sockets. No
 * redirects, no decompression: the load generator must cost as little CPU as it can, because it
 * shares the machine with the server it measures.
 */
export function createHttp(base: string, connections: number, timeoutMs: number): { send: HttpSend; close(): void; counter: { requests: number } } {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'fifo' });
  const counter = { requests: 0 };

  const send: HttpSend = (req) =>
    new Promise((resolve, reject) => {
      counter.requests++;
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
      const r = request(
        { host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', reject);
      r.end(req.body);
    });

  return { send, close: () => agent.destroy(), counter };
}

/** A cookie jar for one virtual browser: name=value pairs, paths ignored (all cookies go everywhere). */
export class CookieJar {
  private readonly jar = new Map<string, string>();

  keep(headers: IncomingHttpHeaders): void {
    for (const c of headers['set-cookie'] ?? []) {
      const semi = c.indexOf(';');
      const pair = semi < 0 ? c : c.slice(0, semi);
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}
