import { Router, type NextFunction, type Request, type Response } from 'express';
import { OOB_PATH } from '../kubernetes/kubeconfig.js';
import type { Renderer } from './render.js';

/**
 * The page kubelogin's authcode-keyboard mode redirects to: it shows the authorization code for
 * the user to paste into the terminal (there is no standard out-of-band redirect any more).
 */
export function oobRoutes(renderer: Renderer): Router {
  const router = Router();
  router.get(OOB_PATH, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const code = typeof req.query.code === 'string' && /^[A-Za-z0-9_-]{10,200}$/.test(req.query.code) ? req.query.code : undefined;
      const error = typeof req.query.error === 'string' ? (typeof req.query.error_description === 'string' ? req.query.error_description : req.query.error).slice(0, 300) : undefined;
      const html = await renderer.render('oob', {
        title: code ? 'Your login code' : 'Login not completed',
        cspNonce: res.locals.cspNonce,
        requestId: res.locals.requestId,
        code,
        error: code ? undefined : (error ?? 'No authorization code was received.'),
      });
      // The code is a secret for a minute: keep it out of caches and referrers.
      res.status(code ? 200 : 400).type('html').set('Cache-Control', 'no-store').send(html);
    } catch (err) {
      next(err);
    }
  });
  return router;
}
