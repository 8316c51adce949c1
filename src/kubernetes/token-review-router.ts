import { Router } from 'express';
import { createTokenReviewer, type TokenReviewDeps } from './token-review.js';
import { tokenReviewFastPath } from './token-review-http.js';

/**
 * The webhook as an express router (for embedding and tests): the very same handler the server
 * mounts before express. A file of its own so that the webhook thread, which imports
 * token-review-http.ts, never loads express (test/unit/webhook-worker-imports.test.ts).
 */
export function tokenReviewRoutes(deps: TokenReviewDeps, options: { requireClientCert?: boolean } = {}): Router {
  const fast = tokenReviewFastPath({
    path: deps.path,
    review: createTokenReviewer(deps),
    requireClientCert: options.requireClientCert ?? false,
    onMalformed: () => deps.onReview?.('malformed'),
  });
  const router = Router();
  router.all(deps.path, (req, res, next) => {
    if (!fast(req, res)) next();
  });
  return router;
}
