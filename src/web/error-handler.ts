import type { IncomingMessage, ServerResponse } from 'node:http';
import accepts from 'accepts';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { ERRORS, UnixidError } from '../errors.js';
import { isStoreUnavailable } from '../oidc/store-errors.js';
import type { Renderer } from './render.js';
import type { RequestLocals } from './request-context.js';
import { sendBody } from './send-body.js';

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

export interface ErrorPageDeps {
  renderer: Renderer;
  logger: Logger;
}

/**
 * Whether the request carries a JSON body (express's `req.is('json')`): a body is announced
 * (Content-Length or Transfer-Encoding) and its media type is application/json.
 */
function hasJsonBody(req: IncomingMessage): boolean {
  const announced = req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
  const type = req.headers['content-type'];
  return announced && typeof type === 'string' && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * Answer a request that failed: a page (or JSON, for clients that do not ask for HTML or that
 * sent JSON) with a safe message and the request id; the error itself goes to the log. For
 * express's requests (the last handler, `errorHandler`) and for those served before express.
 */
export async function sendError(deps: ErrorPageDeps, err: unknown, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { renderer, logger } = deps;
  const { status, code, message } = describeError(err);
  const locals = (res as ServerResponse & { locals?: Partial<RequestLocals> }).locals ?? {};
  const reqId = locals.requestId;
  // express's routers may rewrite req.url; originalUrl is the path as received.
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (status >= 500) logger.error({ reqId, err, path }, 'request failed');
  else logger.info({ reqId, status, code, detail: (err as UnixidError).detail ?? (err as Error)?.message, path }, 'request refused');
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (status === 503) headers['Retry-After'] = '5';
  const wantsHtml = accepts(req).type(['json', 'html']) === 'html' && !hasJsonBody(req);
  if (!wantsHtml) {
    sendBody(res, status, 'application/json; charset=utf-8', JSON.stringify({ error: code.toLowerCase(), error_description: message, request_id: reqId }), headers);
    return;
  }
  let html: string;
  try {
    const view = status === 503 ? 'unavailable' : 'error';
    html = await renderer.render(view, { title: status === 503 ? 'Temporarily unavailable' : 'Error', status, message, requestId: reqId, cspNonce: locals.cspNonce, retryable: status >= 500 });
  } catch (renderErr) {
    logger.error({ reqId, err: renderErr }, 'error page failed to render');
    sendBody(res, status, 'text/plain; charset=utf-8', `${message}\nrequest id: ${reqId}\n`, headers);
    return;
  }
  // The render is asynchronous: the client may have gone, or something else answered, meanwhile.
  if (!res.headersSent) sendBody(res, status, 'text/html; charset=utf-8', html, headers);
}

/** sendError as express's last handler. */
export function errorHandler(deps: ErrorPageDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): Promise<void> => sendError(deps, err, req, res);
}
