import { Router } from 'express';
import { createTokenReviewer, type TokenReviewDeps } from '../../src/kubernetes/token-review.js';
import { tokenReviewFastPath } from '../../src/kubernetes/token-review-http.js';

/** POST a TokenReview the way kube-apiserver does (with its metadata/status stubs); resolves status and body. */
export async function tokenReview(url: string, token: string, apiVersion = 'authentication.k8s.io/v1', audiences?: string[]) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, */*' },
    body: JSON.stringify({ apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token, ...(audiences ? { audiences } : {}) }, status: {} }),
  });
  return { status: res.status, body: (await res.json()) as { apiVersion: string; kind: string; status: Record<string, unknown> } };
}

/**
 * The webhook's handler mounted in an express app at `path`, for tests that build the reviewer
 * themselves: the same fast path the server puts before express, with express's request context.
 */
export function tokenReviewRoutes(deps: TokenReviewDeps & { path: string }): Router {
  const fast = tokenReviewFastPath({
    path: deps.path,
    review: createTokenReviewer(deps),
    requireClientCert: false,
    onMalformed: () => deps.onReview?.('malformed'),
  });
  const router = Router();
  router.all(deps.path, (req, res, next) => {
    if (!fast(req, res)) next();
  });
  return router;
}
