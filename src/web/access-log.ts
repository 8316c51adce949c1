import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/** One log line per request: method, path (never the query: it carries codes and tokens), status, time. */
export function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.originalUrl.split('?')[0];
      const level = res.statusCode >= 500 ? 'error' : 'info';
      logger[level]({ reqId: res.locals.requestId, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10, ip: req.ip }, 'request');
    });
    next();
  };
}
