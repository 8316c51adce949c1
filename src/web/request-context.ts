import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      requestId: string;
      cspNonce: string;
    }
  }
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The request id to use: a sane incoming X-Request-Id, else a new UUID. Never throws. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && SAFE_ID.test(header) ? header : randomUUID();
}

/** What every response carries in `res.locals` (express's place for them, also read by the provider's pages). */
export interface RequestLocals {
  requestId: string;
  cspNonce: string;
}

/**
 * Give a request an id (kept from a sane incoming X-Request-Id, and sent back in X-Request-Id) and
 * a CSP nonce for its page, in `res.locals`: for express's requests and for those served before it.
 */
export function beginRequest(req: IncomingMessage, res: ServerResponse): RequestLocals {
  const target = res as ServerResponse & { locals?: Partial<RequestLocals> };
  const locals = (target.locals ??= {}) as RequestLocals;
  locals.requestId = requestIdFrom(req.headers['x-request-id']);
  locals.cspNonce = randomBytes(16).toString('base64');
  res.setHeader('X-Request-Id', locals.requestId);
  return locals;
}

/** beginRequest as express middleware. */
export function requestContext() {
  return (req: Request, res: Response, next: NextFunction): void => {
    beginRequest(req, res);
    next();
  };
}
