import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { pino } from 'pino';
import { createListener, type Listener } from '../../src/server/listen.js';
import { appMessageClasses } from '../../src/web/app-messages.js';

// What each request saw, by path: its prototypes when node:http handed it over, and inside express.
const seen = new Map<string, { atStart: [object, object]; inExpress?: [object, object] }>();

describe('requests and responses born with the express app prototypes', () => {
  const app = express();
  app.get('/routed', (req, res) => {
    seen.get(req.path)!.inExpress = [Object.getPrototypeOf(req) as object, Object.getPrototypeOf(res) as object];
    // express's own helpers still work on them: req.query, req.ip, res.status, res.json.
    res.status(201).json({ q: req.query.q, ip: req.ip });
  });
  let listener: Listener;
  let base: string;

  before(async () => {
    listener = createListener({ logger: pino({ level: 'silent' }), messages: appMessageClasses(app) }, (req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      seen.set(path, { atStart: [Object.getPrototypeOf(req) as object, Object.getPrototypeOf(res) as object] });
      if (path === '/direct') {
        // Served before express, as the TokenReview webhook and the login pages are.
        res.writeHead(200, ['Content-Type', 'text/plain']);
        res.end('direct');
        return;
      }
      app(req, res);
    });
    await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(listener.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => listener.server.close(() => resolve()));
  });

  it('serves express routes as before', async () => {
    const res = await fetch(`${base}/routed?q=kube`);
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { q: 'kube', ip: '127.0.0.1' });
  });

  it('gives express the prototypes it would set, so it never changes them', async () => {
    await (await fetch(`${base}/routed?q=1`)).text();
    const routed = seen.get('/routed')!;
    assert.equal(routed.atStart[0], app.request, 'a request starts with the app request prototype');
    assert.equal(routed.atStart[1], app.response, 'a response starts with the app response prototype');
    assert.deepEqual(routed.inExpress, routed.atStart, 'express left both prototypes as they were');
  });

  it('builds requests served before express from the same prototypes', async () => {
    assert.equal(await (await fetch(`${base}/direct`)).text(), 'direct');
    assert.deepEqual(seen.get('/direct')!.atStart, [app.request, app.response]);
  });
});
