import { randomBytes, randomUUID } from 'node:crypto';
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

/** Give every request an id (kept from a sane incoming X-Request-Id) and a CSP nonce for its page. */
export function requestContext() {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.locals.requestId = requestIdFrom(req.get('x-request-id'));
    res.locals.cspNonce = randomBytes(16).toString('base64');
    res.setHeader('X-Request-Id', res.locals.requestId);
    next();
  };
}
