import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/**
 * One log line per request once its answer is sent: id, method, path (never the query: it carries
 * codes and tokens), status, time and client address.
 */
export function logWhenFinished(logger: Logger, req: IncomingMessage, res: ServerResponse, url: string, ip: () => string): void {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const level = res.statusCode >= 500 ? 'error' : 'info';
    const reqId = (res as ServerResponse & { locals?: { requestId?: string } }).locals?.requestId;
    logger[level]({ reqId, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10, ip: ip() }, 'request');
  });
}

/** logWhenFinished as express middleware (the path as received, before any router rewrites it). */
export function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    logWhenFinished(logger, req, res, req.originalUrl, () => req.ip ?? '');
    next();
  };
}
