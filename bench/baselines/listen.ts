import type { Server } from 'node:http';

/**
 * Serve a bare HTTP baseline as unixid serves (keep-alive 65 s) on a free loopback port, tell the
 * bench which one (the 'listening' message startBaseline waits for), and exit with the bench.
 */
export function listenForBench(server: Server): void {
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.send?.({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
  });
  process.on('disconnect', () => process.exit(0));
}
