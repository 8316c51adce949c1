import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { jsonBodyErrors } from './json-body-errors.js';
import type { AccessRequest, Decision, Policy } from './authz-policy.js';

export interface SubjectAccessReviewDeps {
  path: string;
  /** The live policy (a PolicyStore); read on every review so that reloads apply at once. */
  policy: { current(): Policy };
  logger: Logger;
  /** Called once per answered review, for metrics. */
  onDecision?: (decision: Decision['decision'] | 'malformed' | 'error') => void;
}

const API_VERSIONS = new Set(['authorization.k8s.io/v1', 'authorization.k8s.io/v1beta1']);
const RESOURCE_FIELDS = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const;

type Parsed = { ok: true; apiVersion: string; request: AccessRequest } | { ok: false; reason: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/**
 * Read a SubjectAccessReview as kube-apiserver sends it. v1 names the groups field `groups`,
 * v1beta1 `group`; fields the policy does not use (uid, extra, selectors) are ignored.
 */
export function parseSubjectAccessReview(body: unknown): Parsed {
  if (!isObject(body)) return { ok: false, reason: 'body must be a JSON object' };
  const { apiVersion, kind, spec } = body;
  if (typeof apiVersion !== 'string' || !API_VERSIONS.has(apiVersion)) {
    return { ok: false, reason: 'apiVersion must be authorization.k8s.io/v1 or authorization.k8s.io/v1beta1' };
  }
  if (kind !== 'SubjectAccessReview') return { ok: false, reason: 'kind must be SubjectAccessReview' };
  if (!isObject(spec)) return { ok: false, reason: 'spec must be an object' };
  const user = spec.user ?? '';
  if (typeof user !== 'string') return { ok: false, reason: 'spec.user must be a string' };
  const groupsField = apiVersion.endsWith('/v1beta1') ? 'group' : 'groups';
  const groups = spec[groupsField] ?? [];
  if (!isStringArray(groups)) return { ok: false, reason: `spec.${groupsField} must be an array of strings` };

  const { resourceAttributes: ra, nonResourceAttributes: na } = spec;
  if ((ra === undefined || ra === null) === (na === undefined || na === null)) {
    return { ok: false, reason: 'spec needs exactly one of resourceAttributes and nonResourceAttributes' };
  }
  if (ra !== undefined && ra !== null) {
    if (!isObject(ra)) return { ok: false, reason: 'spec.resourceAttributes must be an object' };
    const attrs: Record<string, string> = {};
    for (const f of RESOURCE_FIELDS) {
      const v = ra[f] ?? '';
      if (typeof v !== 'string') return { ok: false, reason: `spec.resourceAttributes.${f} must be a string` };
      attrs[f] = v;
    }
    if (!attrs.verb) return { ok: false, reason: 'spec.resourceAttributes.verb is required' };
    return {
      ok: true,
      apiVersion,
      request: {
        user,
        groups,
        resource: { verb: attrs.verb, namespace: attrs.namespace ?? '', group: attrs.group ?? '', resource: attrs.resource ?? '', subresource: attrs.subresource ?? '', name: attrs.name ?? '' },
      },
    };
  }
  if (!isObject(na)) return { ok: false, reason: 'spec.nonResourceAttributes must be an object' };
  const { path, verb } = na;
  if (typeof path !== 'string' || path === '') return { ok: false, reason: 'spec.nonResourceAttributes.path must be a non-empty string' };
  if (typeof verb !== 'string' || verb === '') return { ok: false, reason: 'spec.nonResourceAttributes.verb must be a non-empty string' };
  return { ok: true, apiVersion, request: { user, groups, nonResource: { path, verb } } };
}

function describeTarget(r: AccessRequest): string {
  if (r.nonResource) return `${r.nonResource.verb} ${r.nonResource.path}`;
  const a = r.resource!;
  const res = `${a.group ? `${a.resource}.${a.group}` : a.resource}${a.subresource ? `/${a.subresource}` : ''}`;
  return `${a.verb} ${res}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;
}

/**
 * `POST <path>`: kube-apiserver's SubjectAccessReview webhook (authorization.k8s.io v1 and v1beta1),
 * answered in the request's version with allowed, denied, or neither (no opinion). Malformed bodies
 * get 400 with a reason; never a 5xx for bad input.
 */
export function subjectAccessReviewRoutes(deps: SubjectAccessReviewDeps): Router {
  const router = Router();
  const log = deps.logger;
  const parseJson = express.json({ limit: '64kb', strict: true, type: () => true });

  const handle = (req: Request, res: Response): void => {
    const reqId = res.locals.requestId as string | undefined;
    res.set('Cache-Control', 'no-store');
    try {
      const parsed = parseSubjectAccessReview(req.body);
      if (!parsed.ok) {
        log.info({ reqId, reason: parsed.reason }, 'subject access review malformed');
        deps.onDecision?.('malformed');
        res.status(400).json({ error: parsed.reason });
        return;
      }
      const { apiVersion, request } = parsed;
      const d = deps.policy.current().decide(request);
      log.debug({ reqId, user: request.user, target: describeTarget(request), decision: d.decision, rule: d.rule }, 'subject access review');
      deps.onDecision?.(d.decision);
      // `denied` is sent only when true: allowed and denied both false is "no opinion" (CONTRACTS §3).
      const status = d.decision === 'deny' ? { allowed: false, denied: true, reason: d.reason } : { allowed: d.decision === 'allow', reason: d.reason };
      res.status(200).json({ apiVersion, kind: 'SubjectAccessReview', status });
    } catch (err) {
      log.error({ reqId, err }, 'subject access review failed');
      deps.onDecision?.('error');
      if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    }
  };

  const bodyError = jsonBodyErrors(log, 'subject access review', (kind) => deps.onDecision?.(kind));

  router.post(deps.path, parseJson, handle, bodyError);
  router.all(deps.path, (_req, res) => {
    res.status(405).set('Allow', 'POST').json({ error: 'method not allowed: use POST' });
  });
  return router;
}
