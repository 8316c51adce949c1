import { Router } from 'express';

/** A readiness probe: a name and a check that resolves ok/detail and never throws. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: string }>;
}

export interface HealthDeps {
  checks: ReadinessCheck[];
  /** False while shutting down, so load balancers stop sending new requests first. */
  accepting: () => boolean;
}

/** `/healthz` (the process answers) and `/readyz` (every dependency is usable). */
export function healthRoutes(deps: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results: Record<string, { ok: boolean; detail?: string }> = {};
    await Promise.all(
      deps.checks.map(async (c) => {
        try {
          results[c.name] = await c.check();
        } catch (err) {
          results[c.name] = { ok: false, detail: (err as Error).message };
        }
      }),
    );
    const accepting = deps.accepting();
    const ok = accepting && Object.values(results).every((r) => r.ok);
    res
      .status(ok ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: ok ? 'ready' : 'not ready', ...(accepting ? {} : { shuttingDown: true }), checks: results });
  });
  return router;
}
