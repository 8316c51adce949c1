import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Provider } from 'oidc-provider';
import type { ProviderRef } from '../oidc/provider-ref.js';
import { requestIdFrom } from './request-context.js';

export interface WellKnownFastPathOptions {
  /** Exact request paths answered from the cache (the discovery document, the JWKS). */
  paths: Iterable<string>;
  provider: ProviderRef;
  /** Send HSTS, as the express app does when the issuer is https. */
  hsts: boolean;
  /** Cached answers per provider instance (paths x host variants); when full, the least recently used goes. Default 16. */
  maxEntries?: number;
  /** Told about every answer sent from the cache, for the HTTP metrics. */
  onServed?: (path: string, method: string, status: number, seconds: number) => void;
}

/** Answer from the cache, or call `next` to hand the request on untouched. */
export type WellKnownFastPath = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

interface Entry {
  body: Buffer;
  etag: string;
  contentType: string;
}

/**
 * The request details oidc-provider (koa) builds absolute URLs from: Host, and with `proxy` on
 * X-Forwarded-Host and X-Forwarded-Proto, and whether the socket is TLS. The discovery document
 * differs with each, so each gets its own entry; with `proxy` off the forwarded headers change
 * nothing and are left out, so they cannot be used to fill the cache.
 */
function variant(req: IncomingMessage, path: string, proxy: boolean): string {
  const tls = (req.socket as TLSSocket).encrypted ? 's' : '-';
  const host = req.headers.host ?? '';
  if (!proxy) return `${path}\n${tls}\n${host}`;
  return `${path}\n${tls}\n${host}\n${String(req.headers['x-forwarded-host'] ?? '')}\n${String(req.headers['x-forwarded-proto'] ?? '')}`;
}

// If-None-Match uses the weak comparison (RFC 9110 13.1.2): a W/ prefix does not matter.
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  for (const tag of ifNoneMatch.split(',')) {
    const t = tag.trim();
    if (t === '*' || t === etag || t === `W/${etag}`) return true;
  }
  return false;
}

const toBuffer = (chunk: unknown, encoding: unknown): Buffer =>
  typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array);

/**
 * Copy what the app sends on `res` and hand a plain 200 body (with its Content-Type) to `keep`.
 * Anything else (another status, an encoded or truncated body, cookies) is not kept. The ETag is
 * added to that first answer too when its headers are still unsent.
 */
function tap(res: ServerResponse, keep: (entry: Entry) => void): void {
  const chunks: Buffer[] = [];
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    if (chunk != null) chunks.push(toBuffer(chunk, rest[0]));
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    res.write = write;
    res.end = end;
    if (chunk != null && typeof chunk !== 'function') chunks.push(toBuffer(chunk, rest[0]));
    const body = Buffer.concat(chunks);
    const contentType = res.getHeader('content-type');
    const length = res.getHeader('content-length');
    if (
      res.statusCode === 200 &&
      typeof contentType === 'string' &&
      (length === undefined || Number(length) === body.length) &&
      res.getHeader('content-encoding') === undefined &&
      res.getHeader('set-cookie') === undefined
    ) {
      const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
      if (!res.headersSent) res.setHeader('ETag', etag);
      keep({ body, etag, contentType });
    }
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

/**
 * Discovery and JWKS answered straight from node:http, before express: they are fetched by every
 * relying party and kube-apiserver, and are the same bytes until the signing keys change. The
 * bytes are oidc-provider's own: the first GET of a (provider instance, path, host variant) goes
 * through `next` and its 200 answer is copied; later GET and HEAD get the copy, with a strong ETag
 * (If-None-Match gives 304). The cache hangs off the provider instance, so a key rotation (a new
 * instance in the ProviderRef) starts an empty one. Every other path or method goes to `next`.
 * Never throws.
 */
export function wellKnownFastPath(options: WellKnownFastPathOptions): WellKnownFastPath {
  const paths = new Set(options.paths);
  const maxEntries = options.maxEntries ?? 16;
  const caches = new WeakMap<Provider, Map<string, Entry>>();

  return (req, res, next) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return next();
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!paths.has(path)) return next();

    const started = process.hrtime.bigint();
    const provider = options.provider.current;
    let cache = caches.get(provider);
    if (!cache) {
      cache = new Map();
      caches.set(provider, cache);
    }
    const key = variant(req, path, provider.proxy);
    const entry = cache.get(key);
    if (!entry) {
      if (method === 'GET') {
        const store = cache;
        tap(res, (e) => {
          // Least recently used goes first: a scanner's stray Host headers cannot pin the cache and
          // keep the real host out of it; they only cost the slow path they would have taken anyway.
          while (store.size >= maxEntries) store.delete(store.keys().next().value!);
          store.set(key, e);
        });
      }
      return next();
    }
    // Re-inserted on use, so the Map's order is least recently used first.
    cache.delete(key);
    cache.set(key, entry);

    const headers: Record<string, string | number> = {
      'Cache-Control': 'no-cache',
      ETag: entry.etag,
      'Access-Control-Allow-Origin': '*',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'X-Request-Id': requestIdFrom(req.headers['x-request-id']),
    };
    if (options.hsts) headers['Strict-Transport-Security'] = 'max-age=31536000';
    let status = 200;
    if (matches(req.headers['if-none-match'], entry.etag)) {
      status = 304;
      res.writeHead(304, headers);
      res.end();
    } else {
      headers['Content-Type'] = entry.contentType;
      headers['Content-Length'] = entry.body.length;
      res.writeHead(200, headers);
      if (method === 'HEAD') res.end();
      else res.end(entry.body);
    }
    options.onServed?.(path, method, status, Number(process.hrtime.bigint() - started) / 1e9);
  };
}
