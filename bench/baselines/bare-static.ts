// Baseline for discovery and JWKS: a bare node:http server answering each path with the bytes
// unixid answered (BENCH_DOCUMENTS = {path: body}), so the difference is unixid's own work.
import { createServer } from 'node:http';
import { listenForBench } from './listen.js';

const documents = new Map(Object.entries(JSON.parse(process.env.BENCH_DOCUMENTS ?? '{}') as Record<string, string>).map(([p, b]) => [p, Buffer.from(b)]));

const server = createServer((req, res) => {
  const body = documents.get(req.url ?? '');
  if (!body) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
listenForBench(server);
