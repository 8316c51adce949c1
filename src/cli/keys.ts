import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { keyRingConfig, keyTimings, resolveKeySource, type KeySource } from '../keys/create-key-ring.js';
import { describeRing, epochSeconds, type KeyRole } from '../keys/key-ring.js';
import { generateSigningJwk, parseSigningKeys } from '../keys/load-keys.js';
import { createRingStore, maintainRing, type RingStore } from '../keys/redis-key-ring.js';
import type { Store } from '../store/create-store.js';
import type { ParsedArgs } from './args.js';
import { connectStore } from './connect-store.js';

const EXIT_OK = 0;
const EXIT_NOTHING = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: unixid keys generate [--out FILE] | list [--json] | rotate

  generate [--out FILE]  a new RSA-2048 RS256 private JWK set (with kid) for keys.signingKeyFile or a
                         Secret; written to FILE with mode 0600 (never over an existing file), else printed
  list                   the signing keys of the configured source: kid, alg, role, and for the redis
                         source when each was created, activates, retires and is removed
  rotate                 redis source: publish the next key now; it signs keys.prepublishSeconds later
                         (never at once: kube-apiserver must fetch it first). Other sources: how to rotate.
`;

export interface KeysCliOptions {
  /** Millisecond clock. */
  now?: () => number;
  /** How to reach Redis (tests). Default connectStore. */
  connect?: (config: Config) => Promise<Store>;
}

/** One row of `keys list`. */
interface KeyRow {
  kid: string;
  alg: string;
  role: KeyRole | 'unusable';
  created?: string;
  activates?: string;
  retires?: string;
  removed?: string;
  problem?: string;
}

function iso(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * `unixid keys generate|list|rotate`. Resolves the exit code: 0 done, 1 nothing done (a next key
 * already pending, a source unixid does not rotate, a file that exists or cannot be read), 2 usage
 * error or Redis unreachable. Rejects only on unexpected errors.
 */
export async function keys(config: Config, args: ParsedArgs & { out?: string }, out: NodeJS.WritableStream, options: KeysCliOptions = {}): Promise<number> {
  const [command, ...rest] = args.positionals;
  const now = options.now ?? Date.now;
  switch (command) {
    case 'generate':
      if (rest.length > 1 || (rest.length === 1 && args.out)) break;
      return generate(args.out ?? rest[0], out);
    case 'list':
      if (rest.length > 0) break;
      return list(config, args.json, out, now, options.connect ?? connectStore);
    case 'rotate':
      if (rest.length > 0) break;
      return rotate(config, out, now, options.connect ?? connectStore);
  }
  out.write(USAGE);
  return EXIT_USAGE;
}

async function generate(file: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const jwk = await generateSigningJwk();
  const text = `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`;
  if (!file) {
    out.write(text);
    return EXIT_OK;
  }
  try {
    // wx: never replace a file that may hold the key everything is signed with.
    await writeFile(file, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    out.write(code === 'EEXIST' ? `${file} exists: not overwriting a key file; choose another name\n` : `cannot write ${file}: ${(err as Error).message}\n`);
    return EXIT_NOTHING;
  }
  out.write(
    `wrote a new RS256 signing key ${jwk.kid} to ${file} (mode 0600)\n` +
      'To serve it, put it in the keys of keys.signingKeyFile, e.g. a Secret:\n' +
      `  kubectl create secret generic unixid-signing-keys --from-file=signing-keys.json=${file}\n` +
      'To rotate to it, add it AFTER the current key first (see `unixid keys rotate`).\n',
  );
  return EXIT_OK;
}

/** The rows of a static source (a key file or the generated dev key): the first signs. */
async function fileRows(file: string): Promise<KeyRow[]> {
  const jwks = parseSigningKeys(await readFile(file, 'utf8'), file);
  return jwks.map((jwk, i) => ({ kid: jwk.kid, alg: jwk.alg, role: i === 0 ? 'active' : 'published' }));
}

function staticFile(config: Config, source: KeySource): string {
  return source === 'file' ? config.keys.signingKeyFile! : join(config.dataDir, 'signing-keys.json');
}

async function list(config: Config, json: boolean, out: NodeJS.WritableStream, now: () => number, connect: (c: Config) => Promise<Store>): Promise<number> {
  const source = resolveKeySource(config.keys, config.store);
  let rows: KeyRow[];
  if (source === 'redis') {
    const ring = await openRing(config, out, connect);
    if (!ring) return EXIT_USAGE;
    try {
      const snapshot = await ring.store.read();
      const states = describeRing(snapshot.keys, epochSeconds(now()), keyTimings(keyRingConfig(config)));
      rows = states.map((s) => {
        const row: KeyRow = { kid: s.kid, alg: s.jwk.alg, role: s.role };
        const times = { created: iso(s.createdAt), activates: iso(s.activateAt), retires: iso(s.retireAt), removed: iso(s.removeAt) };
        for (const [k, v] of Object.entries(times)) if (v) (row as unknown as Record<string, string>)[k] = v;
        return row;
      });
      for (const bad of snapshot.invalid) rows.push({ kid: bad.field, alg: '-', role: 'unusable', problem: bad.problem });
    } finally {
      await ring.close();
    }
  } else {
    const file = staticFile(config, source);
    try {
      rows = await fileRows(file);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      out.write(missing && source === 'generated' ? `no key has been generated into ${config.dataDir} yet (it is on the first start)\n` : `${(err as Error).message}\n`);
      return EXIT_NOTHING;
    }
  }

  if (json) {
    out.write(`${JSON.stringify({ source, keys: rows }, null, 2)}\n`);
    return EXIT_OK;
  }
  out.write(`source: ${source}${source === 'redis' ? '' : ` (${staticFile(config, source)}: the first key signs, all are published)`}\n`);
  if (rows.length === 0) {
    out.write('no keys yet: the first replica to start creates one\n');
    return EXIT_OK;
  }
  const header = ['KID', 'ALG', 'ROLE', 'CREATED', 'ACTIVATES', 'RETIRES', 'REMOVED'];
  const table = rows.map((r) => [r.kid, r.alg, r.role, r.created ?? '-', r.activates ?? '-', r.retires ?? '-', r.removed ?? '-']);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  for (const row of [header, ...table]) out.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  for (const r of rows) if (r.problem) out.write(`unusable: ${r.problem}\n`);
  return EXIT_OK;
}

async function rotate(config: Config, out: NodeJS.WritableStream, now: () => number, connect: (c: Config) => Promise<Store>): Promise<number> {
  const source = resolveKeySource(config.keys, config.store);
  if (source === 'file') {
    out.write(
      `signing keys come from ${config.keys.signingKeyFile} (operator-managed): unixid never writes it. To rotate:\n` +
        '  1. `unixid keys generate --out next.json` and add its key AFTER the current one in the file or Secret:\n' +
        '     it is published in the JWKS but does not sign;\n' +
        "  2. once kube-apiserver has refetched the JWKS (longer than its cache lifetime; a day is safe), move it FIRST:\n" +
        '     it signs from then on;\n' +
        `  3. after the longest token lifetime (tokens.idTokenSeconds ${config.tokens.idTokenSeconds} s) plus a margin, remove the old key.\n` +
        'Every replica re-reads the file within seconds of a change (a Secret update included); a broken file keeps the previous keys.\n' +
        'Or configure store.redisUrl without keys.signingKeyFile for automatic rotation.\n',
    );
    return EXIT_NOTHING;
  }
  if (source === 'generated') {
    out.write(
      `the signing key is generated into ${join(config.dataDir, 'signing-keys.json')} for development and is not rotated.\n` +
        'Delete it and restart to get a new one (tokens it signed stop verifying), or configure store.redisUrl for automatic rotation.\n',
    );
    return EXIT_NOTHING;
  }

  const ring = await openRing(config, out, connect);
  if (!ring) return EXIT_USAGE;
  try {
    const timings = keyTimings(keyRingConfig(config));
    // A replica may hold the lock for a moment (its own maintenance): wait a little for it.
    for (let attempt = 0; ; attempt++) {
      const result = await maintainRing(ring.store, { timings, now: () => epochSeconds(now()), rotate: true });
      if (result.outcome === 'applied' && result.created) {
        const c = result.created;
        const previous = result.plan?.update.find((k) => k.retireAt === c.activateAt);
        out.write(
          c.activateAt <= c.createdAt
            ? `created the first signing key ${c.kid}: it signs now\n`
            : `published the next signing key ${c.kid}: it signs from ${iso(c.activateAt)} (in ${timings.prepublishSeconds} s)\n` +
                (previous ? `the current key ${previous.kid} signs until then and stays published until ${iso(previous.removeAt)}\n` : ''),
        );
        out.write(`running replicas pick it up within keys.pollSeconds (${config.keys.pollSeconds} s)\n`);
        return EXIT_OK;
      }
      if (result.plan?.pending) {
        const p = result.plan.pending;
        out.write(`the next key ${p.kid} is already published and signs from ${iso(p.activateAt)}: not creating another\n`);
        return EXIT_NOTHING;
      }
      if (attempt >= 20) {
        out.write('another unixid holds the key-ring lock: try again in a moment\n');
        return EXIT_NOTHING;
      }
      await sleep(250);
    }
  } finally {
    await ring.close();
  }
}

async function openRing(config: Config, out: NodeJS.WritableStream, connect: (c: Config) => Promise<Store>): Promise<{ store: RingStore; close(): Promise<void> } | undefined> {
  let store: Store;
  try {
    store = await connect(config);
  } catch (err) {
    out.write(`${(err as Error).message}\n`);
    return undefined;
  }
  return { store: createRingStore(store.redis!, config.store.keyPrefix), close: () => store.close() };
}
