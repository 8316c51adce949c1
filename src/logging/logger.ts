import { createHash } from 'node:crypto';
import { pino, type Logger } from 'pino';

/** Fields that may carry secrets; pino replaces them wherever they appear in a log object. */
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
  return pino(
    {
      level: options.level,
      base: { service: 'unixid' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest as pino.DestinationStream,
  );
}

/** A short, non-reversible fingerprint of a token for logs: enough to correlate, useless to replay. */
export function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 12);
}
