import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';
import { createRedactor } from '../logging/redact.js';

/** The security events unixid records. Fields are free-form but must never carry a secret (see below). */
export type AuditEventType =
  | 'login.success'
  | 'login.failure'
  | 'login.throttled'
  | 'refresh.denied'
  | 'token.revoked'
  | 'user.revoked'
  | 'logout'
  | 'key.rotated'
  | 'config.reloaded'
  | 'ban.lifted';

export interface AuditLog {
  /**
   * Write one line `{audit: true, event, time, ...fields}`. Secret-named fields (password, token,
   * code, cookie, ... at any depth) are replaced by '[redacted]' and JWT-looking text by its
   * fingerprint, so name a PAM result `reason`/`pamCode`, not `code`. Never throws.
   */
  event(type: AuditEventType, fields: Record<string, unknown>): void;
  /** Flush and, for a file this log opened, close it. Resolves once written; never rejects. */
  close(): Promise<void>;
}

export interface AuditLogOptions {
  /** Append to this file (created with its directories). */
  file?: string;
  /** Or write to this stream (default stdout, next to the normal logs). Not closed by close(). */
  destination?: NodeJS.WritableStream;
  /** The clock of the `time` field. */
  now?: () => Date;
  /** Told when the audit file cannot be written (default: a line on stderr). */
  onError?: (err: Error) => void;
}

/** Field names whose values are secrets wherever they appear, compared case-insensitively. */
const SECRET_KEYS = new Set([
  'password',
  'passwd',
  'token',
  'id_token',
  'refresh_token',
  'access_token',
  'code',
  'client_secret',
  'authorization',
  'cookie',
  'set-cookie',
]);

// Three JOSE segments starting with a base64url '{"' header; the third may be empty (alg none).
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** Keys the line itself owns; a field with one of these names is kept under `<name>_` instead. */
const RESERVED = new Set(['audit', 'event', 'time', 'level', 'msg', 'service', 'hostname', 'pid']);

const MAX_DEPTH = 8;

// Path redaction as a second line of defence; its wildcards cover a fixed number of levels,
// which is why scrub() below walks every depth first.
const REDACT_PATHS = [...SECRET_KEYS].flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const join = (prefix: string) => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);
  return [key, join('*'), join('*.*')];
});

function jwtFingerprint(jwt: string): string {
  return `[jwt sha256:${createHash('sha256').update(jwt).digest('base64url').slice(0, 12)}]`;
}

/** Replace every JWT-looking run of text by its fingerprint: enough to correlate, useless to replay. */
function scrubString(s: string): string {
  return s.includes('eyJ') ? s.replace(JWT, jwtFingerprint) : s;
}

/** A copy of `value` without secrets: secret-named keys redacted, JWTs fingerprinted, cycles and depth cut. */
function scrub(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  // Raw bytes could be a key or a password buffer; their length is all an audit reader needs.
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, seen));
    if (value instanceof Error) return { type: value.name, message: scrubString(value.message) };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEYS.has(k.toLowerCase()) ? '[redacted]' : scrub(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Fields as they are written: scrubbed, with the line's own keys moved out of the way. */
function prepare(fields: Record<string, unknown>): Record<string, unknown> {
  const clean = scrub(fields, 0, new WeakSet()) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(clean)) out[RESERVED.has(k) ? `${k}_` : k] = v;
  return out;
}

/**
 * The audit stream: JSON lines to an append-only file, or to a stream (stdout by default). Throws
 * only if the options are unusable; a file that later fails to write is reported through onError
 * and the events are lost rather than crashing the server.
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? ((err: Error) => process.stderr.write(`unixid: audit log write failed: ${err.message}\n`));
  let fileDest: ReturnType<typeof pino.destination> | undefined;
  let failed = false;
  let dest: DestinationStream;
  if (options.file) {
    fileDest = pino.destination({ dest: options.file, sync: false, mkdir: true, append: true });
    fileDest.on('error', (err: Error) => {
      failed = true;
      onError(err);
    });
    dest = fileDest;
  } else {
    dest = (options.destination ?? process.stdout) as DestinationStream;
  }

  const redact = createRedactor(REDACT_PATHS, '[redacted]');
  const logger: Logger = pino(
    {
      level: 'info',
      base: { audit: true, service: 'unixid', hostname: hostname(), pid: process.pid },
      messageKey: 'msg',
      // scrub() has already turned errors into {type, message}; pino's err serializer would add a stack.
      serializers: { err: (v: unknown) => v },
      timestamp: () => `,"time":"${now().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }), log: redact },
    },
    dest,
  );

  let closed: Promise<void> | undefined;
  return {
    event(type, fields) {
      if (closed) return;
      try {
        logger.info({ event: type, ...prepare(fields) }, type);
      } catch (err) {
        onError(err as Error);
      }
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (!fileDest || failed) {
          resolve();
          return;
        }
        const d = fileDest;
        d.once('close', () => resolve());
        d.once('error', () => resolve());
        try {
          d.end();
        } catch {
          resolve();
        }
      });
      return closed;
    },
  };
}
