import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { createMetrics, metricsRoutes, routeGroup, type Metrics } from '../../src/observability/metrics.js';

/** The value of one series (labels matched exactly), or undefined when it does not exist. */
async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return undefined;
  const data = await metric.get();
  const want = Object.entries(labels);
  const hit = data.values.find((v) => Object.keys(v.labels).length === want.length && want.every(([k, val]) => String(v.labels[k]) === val));
  return hit?.value;
}

/** The observation count of a histogram series. */
async function count(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const data = await metric.get();
  const want = Object.entries(labels);
  const hit = data.values.find((v) => (v as { metricName?: string }).metricName === `${name}_count` && want.every(([k, val]) => String(v.labels[k]) === val));
  return hit?.value ?? 0;
}

async function serve(app: express.Express): Promise<{ base: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('metrics', () => {
  it('moves each counter as it is called', async () => {
    const m = createMetrics({ collectDefault: false });
    m.login('pam', 'success');
    m.login('pam', 'success');
    m.login('ldap', 'failure');
    m.refresh('denied');
    m.tokenReview('authenticated');
    m.tokenReview('malformed');
    m.authorization('allowed');
    m.throttled('ip');
    m.tokensIssued('refresh_token');
    m.tokensIssued('made-up grant with spaces');
    assert.equal(await value(m, 'unixid_device_poll_slow_downs_total'), 0, 'starts at zero');
    m.devicePollSlowDown();
    m.devicePollSlowDown();

    assert.equal(await value(m, 'unixid_logins_total', { backend: 'pam', outcome: 'success' }), 2);
    assert.equal(await value(m, 'unixid_logins_total', { backend: 'ldap', outcome: 'failure' }), 1);
    assert.equal(await value(m, 'unixid_refreshes_total', { outcome: 'denied' }), 1);
    assert.equal(await value(m, 'unixid_refreshes_total', { outcome: 'ok' }), 0, 'fixed outcomes start at zero');
    assert.equal(await value(m, 'unixid_token_reviews_total', { outcome: 'authenticated' }), 1);
    assert.equal(await value(m, 'unixid_token_reviews_total', { outcome: 'malformed' }), 1);
    assert.equal(await value(m, 'unixid_authorization_reviews_total', { decision: 'allowed' }), 1);
    assert.equal(await value(m, 'unixid_login_throttled_total', { scope: 'ip' }), 1);
    assert.equal(await value(m, 'unixid_login_throttled_total', { scope: 'username' }), 0);
    assert.equal(await value(m, 'unixid_tokens_issued_total', { grant_type: 'refresh_token' }), 1);
    assert.equal(await value(m, 'unixid_tokens_issued_total', { grant_type: 'other' }), 1, 'unknown grant types share one series');
    assert.equal(await value(m, 'unixid_device_poll_slow_downs_total'), 2);
  });

  it('observes backend durations, including through time()', async () => {
    const m = createMetrics({ collectDefault: false });
    m.observeBackend('pam', 0.2, true);
    m.observeBackend('pam', 2.1, false);
    assert.equal(await m.time('redis', async () => 42), 42);
    await assert.rejects(
      m.time('ldap', async () => {
        throw new Error('server down');
      }),
      /server down/,
    );
    // A call that throws before it has a promise is a rejection too, and counted as an error.
    let thrown: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      thrown = m.time('nss', () => {
        throw new Error('no thread');
      });
    });
    await assert.rejects(thrown!, /no thread/);
    assert.equal(await count(m, 'unixid_backend_duration_seconds', { kind: 'nss', result: 'error' }), 1);
    assert.equal(await count(m, 'unixid_backend_duration_seconds', { kind: 'pam', result: 'ok' }), 1);
    assert.equal(await count(m, 'unixid_backend_duration_seconds', { kind: 'pam', result: 'error' }), 1);
    assert.equal(await count(m, 'unixid_backend_duration_seconds', { kind: 'redis', result: 'ok' }), 1);
    assert.equal(await count(m, 'unixid_backend_duration_seconds', { kind: 'ldap', result: 'error' }), 1);
  });

  it('keeps registries apart, so several can exist', async () => {
    const a = createMetrics({ collectDefault: true });
    const b = createMetrics({ collectDefault: true });
    a.login('pam', 'success');
    assert.equal(await value(b, 'unixid_logins_total', { backend: 'pam', outcome: 'success' }), undefined);
    assert.match(await a.registry.metrics(), /process_cpu_user_seconds_total/);
  });

  it('groups HTTP routes instead of labelling raw paths', async () => {
    const m = createMetrics({ collectDefault: false, routes: ['/webhook/authn'] });
    const app = express();
    app.use(m.httpMiddleware());
    app.get('/interaction/:uid', (_req, res) => res.send('page'));
    app.post('/interaction/:uid/login', (_req, res) => res.status(303).end());
    app.get('/.well-known/openid-configuration', (_req, res) => res.json({}));
    app.post('/webhook/authn', (_req, res) => res.json({}));
    app.use(metricsRoutes(m));
    const s = await serve(app);
    try {
      const uids = ['Xk3pQ9aa', 'Yy8Lm2bb', 'Zz7Nn1cc'];
      for (const uid of uids) {
        assert.equal((await fetch(`${s.base}/interaction/${uid}?code=secret`)).status, 200);
        assert.equal((await fetch(`${s.base}/interaction/${uid}/login`, { method: 'POST', redirect: 'manual' })).status, 303);
      }
      await fetch(`${s.base}/.well-known/openid-configuration`);
      await fetch(`${s.base}/webhook/authn`, { method: 'POST' });
      for (let i = 0; i < 5; i++) await fetch(`${s.base}/random/${i}`);

      const res = await fetch(`${s.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const name of [
        'unixid_logins_total',
        'unixid_refreshes_total',
        'unixid_token_reviews_total',
        'unixid_authorization_reviews_total',
        'unixid_login_throttled_total',
        'unixid_tokens_issued_total',
        'unixid_backend_duration_seconds',
        'unixid_http_request_duration_seconds',
      ]) {
        assert.ok(text.includes(`# TYPE ${name} `), `${name} is exposed`);
      }
      for (const uid of uids) assert.ok(!text.includes(uid), 'no interaction uid reaches a label');
      assert.ok(!text.includes('secret'), 'no query string reaches a label');
      assert.ok(!/route="\/random/.test(text), 'unknown paths are not labelled as themselves');

      const h = 'unixid_http_request_duration_seconds';
      assert.equal(await count(m, h, { route: '/interaction/:uid', method: 'GET', status: '200' }), 3);
      assert.equal(await count(m, h, { route: '/interaction/:uid/login', method: 'POST', status: '303' }), 3);
      assert.equal(await count(m, h, { route: '/.well-known/openid-configuration', method: 'GET', status: '200' }), 1);
      assert.equal(await count(m, h, { route: '/webhook/authn', method: 'POST', status: '200' }), 1);
      assert.equal(await count(m, h, { route: 'other', method: 'GET', status: '404' }), 5);
    } finally {
      await s.close();
    }
  });

  it('maps paths to a fixed set of groups', () => {
    assert.equal(routeGroup('/token'), '/token');
    assert.equal(routeGroup('/token/'), '/token');
    assert.equal(routeGroup('/jwks?x=1'), '/jwks');
    assert.equal(routeGroup('/auth'), '/auth');
    assert.equal(routeGroup('/auth/abc123'), '/auth/:uid');
    assert.equal(routeGroup('/interaction/abc/confirm'), '/interaction/:uid/confirm');
    assert.equal(routeGroup('/interaction/abc/other'), 'other');
    assert.equal(routeGroup('/authenticate'), '/authenticate');
    assert.equal(routeGroup('/../../etc/passwd'), 'other');
    assert.equal(routeGroup('/custom/hook'), 'other');
    assert.equal(routeGroup('/custom/hook', new Set(['/custom/hook'])), '/custom/hook');
  });
});
