import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A pino logger (debug level) writing its JSON lines into memory, for tests that read what was logged. */
export function captureLogs(): { logger: Logger; lines: string[]; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
