import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AuditLog } from '../observability/audit.js';
import type { PrivateJwk } from './jwk.js';
import { createListeners, keySetOf, staticStates, type KeyRing, type KeySet } from './key-ring.js';
import { parseSigningKeys } from './load-keys.js';

export interface FileKeyRingOptions {
  /** PEM or JWK-set file, possibly several keys (a mounted Kubernetes Secret). */
  file: string;
  logger: Logger;
  /** How often the file is re-read. Default 5000. */
  pollMs?: number;
  audit?: Pick<AuditLog, 'event'>;
}

/** The keys of one file's text, or why they cannot be used. */
function parseKeyFile(text: string, file: string): PrivateJwk[] {
  const jwks = parseSigningKeys(text, file);
  if (jwks.length === 0) throw new Error(`${file}: holds no signing key`);
  const seen = new Set<string>();
  for (const jwk of jwks) {
    // Verifiers pick keys by kid: two keys under one kid would make tokens verify at random.
    if (seen.has(jwk.kid)) throw new Error(`${file}: two keys share the kid '${jwk.kid}'`);
    seen.add(jwk.kid);
  }
  return jwks;
}

/**
 * An operator-managed ring from a key file: the first key signs, every key is published. The file
 * is re-read every pollMs and compared by content (a Secret update swaps a symlink, and its mtime
 * says little), so a change is picked up within pollMs. Rejects when the file is unreadable or holds
 * no usable key at start; later, a missing or broken file keeps the previous set and is logged once
 * per distinct problem.
 */
export async function createFileKeyRing(options: FileKeyRingOptions): Promise<KeyRing> {
  const { file, logger } = options;
  const log = logger.child({ keyFile: file });
  let text = await readFile(file, 'utf8');
  let set = keySetOf(staticStates(parseKeyFile(text, file)));
  let lastProblem: string | undefined;
  const listeners = createListeners((err) => log.error({ err }, 'a key-set listener failed'));

  log.info({ kids: set.signing.map((k) => k.kid), active: set.signing[0]?.kid }, 'signing keys loaded from file');

  async function check(): Promise<KeySet> {
    let next: string;
    try {
      next = await readFile(file, 'utf8');
    } catch (err) {
      report(`cannot read the key file: ${(err as Error).message}`);
      return set;
    }
    if (next === text) return set;
    let jwks: PrivateJwk[];
    let candidate: KeySet;
    try {
      jwks = parseKeyFile(next, file);
      candidate = keySetOf(staticStates(jwks));
    } catch (err) {
      // Possibly caught half-written: a later read sees the finished file (text is not updated).
      report((err as Error).message, next);
      return set;
    }
    text = next;
    lastProblem = undefined;
    if (candidate.version === set.version) return set;
    const before = set;
    set = candidate;
    const kids = set.signing.map((k) => k.kid);
    log.info({ kids, active: kids[0], previousActive: before.signing[0]?.kid }, 'signing keys reloaded from file');
    options.audit?.event('key.rotated', { source: 'file', file, active: kids[0], published: kids });
    listeners.emit(set);
    return set;
  }

  function report(problem: string, content?: string): void {
    // Log each problem once, not every poll; a different broken content is a new problem.
    const key = `${problem}\0${content === undefined ? '' : createHash('sha256').update(content).digest('base64url')}`;
    if (key === lastProblem) return;
    lastProblem = key;
    log.error({ problem }, 'the key file changed but cannot be used: keeping the previous signing keys');
  }

  let running: Promise<KeySet> | undefined;
  function refresh(): Promise<KeySet> {
    // One read at a time; a caller arriving mid-read waits for a fresh one.
    const run = (running ?? Promise.resolve(set)).catch(() => set).then(check);
    running = run;
    run
      .finally(() => {
        if (running === run) running = undefined;
      })
      .catch(() => {});
    return run;
  }

  const timer = setInterval(() => void refresh(), options.pollMs ?? 5000);
  timer.unref();

  return {
    current: () => set,
    onChange: (listener) => listeners.add(listener),
    refresh,
    async close() {
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
