import { createHash } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { createRedactor } from './redact.js';

/**
 * Fields that may carry secrets, replaced wherever these paths find them in a log object or a
 * child logger's bindings. `code` is redacted only at the top (an authorization code); an error's
 * `code` (ECONNREFUSED) stays.
 */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'id_token',
  '*.id_token',
  'refresh_token',
  '*.refresh_token',
  'access_token',
  '*.access_token',
  'code',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'client_secret',
  '*.client_secret',
];

export interface LoggerOptions {
  level: string;
  destination?: NodeJS.WritableStream;
}

/**
 * The process logger: JSON lines on stdout, secrets redacted by field name. Stdout is written
 * asynchronously: a synchronous write per line stalls the event loop whenever the log reader
 * falls behind, and the webhook's latency with it. Call `logger.flush()` before exiting.
 */
export function createLogger(options: LoggerOptions): Logger {
  const dest = options.destination ?? pino.destination({ dest: 1, sync: false });
  const redact = createRedactor(REDACT, '[redacted]');
  const logger = pino(
    {
      level: options.level,
      base: { service: 'unixid' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redact },
    },
    dest as pino.DestinationStream,
  );
  // pino gives a child's bindings no formatter, so they are redacted on the way in. Children are
  // made from their parent's prototype, so every descendant inherits this `child`.
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redact(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** A short, non-reversible fingerprint of a token for logs: enough to correlate, useless to replay. */
export function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 12);
}
