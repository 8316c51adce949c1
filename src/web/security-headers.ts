import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

export interface SecurityHeaderOptions {
  /** Send HSTS (only meaningful when the issuer is https). */
  hsts: boolean;
}

/**
 * A strict Content-Security-Policy (only nonce'd inline style/script, no external assets), no
 * framing, no sniffing, no referrer leaks of codes. `form-action` is left out on purpose: Chrome
 * applies it to the redirects after a form post, which would block the hop back to the client.
 */
export function setSecurityHeaders(res: ServerResponse, nonce: string, options: SecurityHeaderOptions): void {
  res.setHeader(
    'Content-Security-Policy',
    [
      "default-src 'none'",
      `style-src 'nonce-${nonce}'`,
      `script-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  if (options.hsts) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
}

/** setSecurityHeaders as express middleware (after requestContext, which chose the nonce). */
export function securityHeaders(options: SecurityHeaderOptions) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    setSecurityHeaders(res, res.locals.cspNonce, options);
    next();
  };
}
