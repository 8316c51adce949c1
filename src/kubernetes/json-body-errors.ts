import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { describeError } from '../web/error-handler.js';

/**
 * The error handler for a webhook's JSON body parser, mounted in the route's own stack (a route does
 * not match a pending error otherwise): a bad body is the caller's fault — 400, 413 or 415 with a
 * reason — never a 5xx. `onRefused` is told whether it was malformed input or an internal error.
 */
export function jsonBodyErrors(log: Logger, what: string, onRefused?: (kind: 'malformed' | 'error') => void) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const e = err as { type?: string };
    if (res.headersSent) return next(err);
    // The page error handler's mapping of body-parser errors, with the 4xx folded to 400 but for 413/415.
    const mapped = describeError(err).status;
    const status = mapped === 413 || mapped === 415 ? mapped : mapped < 500 ? 400 : 500;
    const reason = status === 413 ? 'request body too large' : status === 415 ? 'unsupported body encoding' : status === 400 ? 'body is not valid JSON' : 'internal error';
    log.info({ reqId: res.locals.requestId, status, type: e.type }, `${what} body refused`);
    onRefused?.(status >= 500 ? 'error' : 'malformed');
    res.status(status).set('Cache-Control', 'no-store').json({ error: reason });
  };
}
