import { Writable } from 'node:stream';
import { createBackend } from '../backends/registry.js';
import type { CredentialBackend, LoginResult } from '../backends/types.js';
import type { Config } from '../config/schema.js';
import { createDirectory } from '../directory/create-directory.js';
import { createGroupFilter } from '../directory/group-filter.js';
import type { Directory } from '../directory/types.js';
import { UnixidError } from '../errors.js';
import { createLogger } from '../logging/logger.js';
import { claimsOf } from '../oidc/claims.js';
import type { ParsedArgs } from './args.js';

/** Where try-login reads and writes; the process streams unless a test passes its own. */
export interface TryLoginIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** One timed step, from the backend's debug log or try-login itself. */
interface Step {
  step: string;
  ms: number;
  fields: Record<string, unknown>;
}

const EXIT_OK = 0;
const EXIT_REFUSED = 1;
const EXIT_UNAVAILABLE = 2;
const EXIT_USAGE = 64; // sysexits EX_USAGE: neither a refusal nor an outage
const MAX_PASSWORD_BYTES = 64 * 1024;

// Log fields that say nothing new next to a step name.
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'service', 'backend', 'msg', 'step', 'ms', 'reqId', 'username']);

/** Read the whole password from a pipe; one trailing newline (what `echo` adds) is not part of it. */
async function readPasswordFromStream(stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > MAX_PASSWORD_BYTES) throw new Error(`password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`);
    chunks.push(b);
  }
  let all = Buffer.concat(chunks);
  if (all.at(-1) === 0x0a) all = all.subarray(0, all.at(-2) === 0x0d ? -2 : -1);
  const out = Buffer.from(all);
  for (const c of chunks) c.fill(0);
  return out;
}

/** Prompt on stderr and read a line from the terminal without echoing it. Rejects on Ctrl-C. */
async function promptPassword(io: TryLoginIo, prompt: string): Promise<Buffer> {
  const { stdin } = io;
  io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  const bytes: number[] = [];
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const onData = (chunk: Buffer | string) => {
        for (const byte of Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)) {
          if (byte === 0x0d || byte === 0x0a || byte === 0x04) {
            stdin.removeListener('data', onData);
            resolve(Buffer.from(bytes));
            return;
          }
          if (byte === 0x03) {
            stdin.removeListener('data', onData);
            reject(new Error('interrupted'));
            return;
          }
          if (byte === 0x7f || byte === 0x08) bytes.pop();
          else bytes.push(byte);
        }
      };
      stdin.on('data', onData);
      stdin.resume();
    });
  } finally {
    bytes.fill(0);
    stdin.setRawMode?.(false);
    stdin.pause();
    io.stderr.write('\n');
  }
}

/** A pino destination that keeps every record in memory, for the step list and the warnings. */
function memoryLog(): { stream: Writable; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        try {
          records.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not JSON: nothing to show
        }
      }
      done();
    },
  });
  return { stream, records };
}

function describeFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/**
 * `unixid try-login USER`: run one login through the configured backend exactly as the server
 * would, and print which backend answered, the entry's DN, the ID-token claims, the groups, the
 * precise refusal reason and the time each step took. Exit code 0 accepted, 1 refused, 2 backend
 * unavailable, 64 bad usage (no user, no terminal and no --stdin). The password is read from a no-echo prompt or, with --stdin,
 * from standard input; it is never printed. Other errors reject.
 */
export async function tryLogin(config: Config, args: ParsedArgs, _options: { production: boolean }, io?: TryLoginIo): Promise<number> {
  const { stdin, stdout, stderr } = io ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  const streams: TryLoginIo = { stdin, stdout, stderr };
  const username = args.positionals[0];
  if (username === undefined || args.positionals.length > 1) {
    stderr.write('usage: unixid try-login USER [--stdin] [--json]\n');
    return EXIT_USAGE;
  }
  if (!args.stdin && !stdin.isTTY) {
    stderr.write('try-login: no terminal to prompt for the password on; pipe it in with --stdin\n');
    return EXIT_USAGE;
  }

  let password: Buffer;
  try {
    password = args.stdin ? await readPasswordFromStream(stdin) : await promptPassword(streams, `Password for ${username}: `);
  } catch (err) {
    stderr.write(`try-login: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }

  const log = memoryLog();
  const logger = createLogger({ level: 'debug', destination: log.stream });
  const steps: Step[] = [];
  const timed = async <T>(step: string, fn: () => T | Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      steps.push({ step, ms: Math.round(performance.now() - started), fields: {} });
    }
  };

  let directory: Directory | undefined;
  let backend: CredentialBackend | undefined;
  let result: LoginResult | undefined;
  let unavailable: string | undefined;
  const total = performance.now();
  try {
    const groupFilter = createGroupFilter(config.groups);
    directory = await timed('directory setup', () => createDirectory(config.nss, logger));
    const dir = directory;
    backend = await timed('backend setup', () => createBackend(config, { directory: dir, groupFilter, logger }));
    const b = backend;
    try {
      result = await timed('login', () => b.login(username, password, { requestId: 'try-login' }));
    } catch (err) {
      if (!(err instanceof UnixidError) || err.status !== 503) throw err;
      unavailable = err.detail ?? err.message;
    }
  } finally {
    password.fill(0);
    await backend?.close().catch(() => undefined);
    await directory?.close().catch(() => undefined);
  }
  const totalMs = Math.round(performance.now() - total);

  // The backend's own steps (debug records with a `step` and `ms`) go before try-login's envelope.
  const backendSteps: Step[] = log.records
    .filter((r) => typeof r.step === 'string' && typeof r.ms === 'number')
    .map((r) => ({
      step: `${String(r.backend ?? config.backend.type)} ${String(r.step)}${r.err ? ' (failed)' : ''}`,
      ms: r.ms as number,
      fields: Object.fromEntries(Object.entries(r).filter(([k]) => !NOISE.has(k))),
    }));
  const allSteps = [...steps.filter((s) => s.step !== 'login'), ...backendSteps, ...steps.filter((s) => s.step === 'login'), { step: 'total', ms: totalMs, fields: {} }];
  const warnings = log.records
    .filter((r) => typeof r.level === 'string' && ['warn', 'error', 'fatal'].includes(r.level))
    .map((r) => {
      const extra = describeFields(Object.fromEntries(Object.entries(r).filter(([k]) => !NOISE.has(k))));
      return `${String(r.level)}: ${String(r.msg)}${extra ? ` (${extra})` : ''}`;
    });

  const identity = result?.ok ? result.identity : undefined;
  const outcome = unavailable !== undefined ? 'unavailable' : result?.ok ? 'accepted' : 'refused';
  if (args.json) {
    const report: Record<string, unknown> = { backend: config.backend.type, username, outcome };
    if (result && !result.ok) Object.assign(report, { reason: result.reason, detail: result.detail });
    if (unavailable !== undefined) report.detail = unavailable;
    if (identity) Object.assign(report, { dn: identity.dn, subject: identity.subject, claims: claimsOf(identity), groups: identity.groups });
    report.steps = allSteps.map((s) => ({ step: s.step, ms: s.ms, ...s.fields }));
    report.warnings = warnings;
    stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const out: string[] = [];
    out.push(`backend:  ${identity?.backend ?? config.backend.type}`);
    out.push(`user:     ${username}`);
    if (identity) {
      out.push('result:   accepted');
      if (identity.dn) out.push(`dn:       ${identity.dn}`);
      out.push(`subject:  ${identity.subject}`);
      out.push(`groups:   ${identity.groups.length > 0 ? identity.groups.join(', ') : '(none)'}`);
      out.push('claims in the ID token:');
      out.push(...JSON.stringify(claimsOf(identity), null, 2).split('\n').map((l) => `  ${l}`));
    } else if (result && !result.ok) {
      out.push(`result:   refused: ${result.reason}`);
      if (result.detail) out.push(`detail:   ${result.detail}`);
    } else {
      out.push('result:   backend unavailable');
      out.push(`detail:   ${unavailable ?? ''}`);
    }
    out.push('steps:');
    const width = Math.max(...allSteps.map((s) => String(s.ms).length));
    for (const s of allSteps) {
      const extra = describeFields(s.fields);
      out.push(`  ${String(s.ms).padStart(width)} ms  ${s.step}${extra ? `  ${extra}` : ''}`);
    }
    if (warnings.length > 0) out.push('log warnings:', ...warnings.map((w) => `  ${w}`));
    stdout.write(`${out.join('\n')}\n`);
  }
  return outcome === 'accepted' ? EXIT_OK : outcome === 'refused' ? EXIT_REFUSED : EXIT_UNAVAILABLE;
}
