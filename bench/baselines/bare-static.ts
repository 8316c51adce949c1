// Baseline for discovery and JWKS: a bare node:http server answering each path with the bytes
// unixid answered (BENCH_DOCUMENTS = {path: body}), so the difference is unixid's own work.
import { createServer } from 'node:http';

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
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
});
process.on('disconnect', () => process.exit(0));
