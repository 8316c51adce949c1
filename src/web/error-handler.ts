import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { ERRORS, UnixidError } from '../errors.js';
import { isStoreUnavailable } from '../oidc/store-errors.js';
import type { Renderer } from './render.js';

interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  error?: string;
  error_description?: string;
  message?: string;
}

/** What the client may learn about an error: a status and a safe message; the rest is logged. */
export function describeError(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof UnixidError) return { status: err.status, code: err.code, message: err.expose ? err.message : 'Something went wrong on our side.' };
  if (isStoreUnavailable(err)) return { status: 503, code: 'STORE_UNAVAILABLE', message: ERRORS.STORE_UNAVAILABLE.message };
  const e = (err ?? {}) as HttpishError;
  if (e.type === 'entity.too.large') return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request is too large.' };
  if (e.type === 'entity.parse.failed') return { status: 400, code: 'BAD_REQUEST', message: 'The request body could not be parsed.' };
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported request encoding.' };
  const status = e.statusCode ?? e.status ?? 500;
  if (status < 500 && (e.expose ?? true)) {
    // oidc-provider errors (e.g. SessionNotFound when the interaction cookie is gone).
    const message = e.error_description ?? e.message ?? 'The request could not be completed.';
    return { status, code: e.error ?? 'BAD_REQUEST', message };
  }
  return { status: status >= 500 ? status : 500, code: 'INTERNAL', message: 'Something went wrong on our side.' };
}

/** The last express handler: a page (or JSON for API clients) with a safe message and the request id. */
export function errorHandler(renderer: Renderer, logger: Logger) {
  return async (err: unknown, req: Request, res: Response, _next: NextFunction): Promise<void> => {
    const { status, code, message } = describeError(err);
    const reqId = res.locals.requestId;
    if (status >= 500) logger.error({ reqId, err, path: req.path }, 'request failed');
    else logger.info({ reqId, status, code, detail: (err as UnixidError).detail ?? (err as Error)?.message, path: req.path }, 'request refused');
    if (res.headersSent) return;
    if (status === 503) res.set('Retry-After', '5');
    res.set('Cache-Control', 'no-store');
    const wantsHtml = req.accepts(['json', 'html']) === 'html' && !req.is('json');
    if (!wantsHtml) {
      res.status(status).json({ error: code.toLowerCase(), error_description: message, request_id: reqId });
      return;
    }
    try {
      const view = status === 503 ? 'unavailable' : 'error';
      const html = await renderer.render(view, { title: status === 503 ? 'Temporarily unavailable' : 'Error', status, message, requestId: reqId, cspNonce: res.locals.cspNonce, retryable: status >= 500 });
      res.status(status).type('html').send(html);
    } catch (renderErr) {
      logger.error({ reqId, err: renderErr }, 'error page failed to render');
      res.status(status).type('text').send(`${message}\nrequest id: ${reqId}\n`);
    }
  };
}
