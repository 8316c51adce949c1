import { pino } from 'pino';

/**
 * Secret-field redaction for log lines, by pino-style paths: `key`, `a.b`, and `*` for "any key"
 * at that level (`*.password`, `*.headers.cookie`, `*.*.token`). A `["set-cookie"]` segment names
 * a key that is not an identifier. A path may not end in `*`.
 *
 * It does what pino's `redact` option did, at a fraction of the cost: pino 10's redaction parses
 * every path again for every line and clones the object, which made it a quarter of everything a
 * browser login allocated. This walks only the keys the paths name (plus every key at a `*`
 * level), and copies an object only when one of its fields is replaced: a line with nothing to
 * hide is passed on as it is.
 */
export type Redactor = <T>(value: T) => T;

interface Node {
  /** Named keys: a leaf (censor the value) or the next level. */
  keys: Map<string, Node | typeof LEAF>;
  /** The same as a list, walked for every log line (iterating a Map allocates its entries). */
  list: Array<{ key: string; next: Node | typeof LEAF }>;
  /** What applies below every key of this level. */
  any?: Node;
}

const LEAF = Symbol('leaf');

function newNode(): Node {
  return { keys: new Map(), list: [] };
}

function freeze(node: Node): void {
  node.list = [...node.keys].map(([key, next]) => ({ key, next }));
  for (const { next } of node.list) if (next !== LEAF) freeze(next);
  if (node.any) freeze(node.any);
}

/** `*.headers["set-cookie"]` → ['*', 'headers', 'set-cookie']. Throws on what this does not support. */
function segmentsOf(path: string): string[] {
  const out: string[] = [];
  const re = /([^.[\]]+)|\["([^"]+)"\]/g;
  let consumed = 0;
  for (let m = re.exec(path); m; m = re.exec(path)) {
    const between = path.slice(consumed, m.index);
    if (between !== '' && between !== '.') throw new Error(`redaction path ${JSON.stringify(path)} is not supported`);
    out.push(m[1] ?? m[2]!);
    consumed = re.lastIndex;
  }
  if (consumed !== path.length || out.length === 0) throw new Error(`redaction path ${JSON.stringify(path)} is not supported`);
  if (out[out.length - 1] === '*') throw new Error(`redaction path ${JSON.stringify(path)} may not end in *`);
  return out;
}

function build(paths: readonly string[]): Node {
  const root = newNode();
  for (const path of paths) {
    const segments = segmentsOf(path);
    let node = root;
    segments.forEach((segment, i) => {
      const last = i === segments.length - 1;
      if (segment === '*') {
        node = node.any ??= newNode();
        return;
      }
      const existing = node.keys.get(segment);
      if (last) {
        node.keys.set(segment, LEAF);
        return;
      }
      if (existing === LEAF) {
        // The whole value is censored already; nothing deeper to do.
        node = newNode();
        return;
      }
      const next = existing ?? newNode();
      node.keys.set(segment, next);
      node = next;
    });
  }
  freeze(root);
  return root;
}

function isContainer(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A shallow copy to write the censored fields into. An Error becomes what pino would log for it. */
function copyOf(value: Record<string, unknown>): Record<string, unknown> {
  if (Array.isArray(value)) return [...value] as unknown as Record<string, unknown>;
  if (value instanceof Error) return { ...pino.stdSerializers.err(value) };
  return { ...value };
}

function apply(value: Record<string, unknown>, node: Node, censor: string, depth: number): Record<string, unknown> {
  // Deep enough for every path; a cycle cannot make this run away.
  if (depth > 16) return value;
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < node.list.length; i++) {
    const { key, next } = node.list[i]!;
    if (!Object.hasOwn(value, key)) continue;
    if (next === LEAF) {
      (out ??= copyOf(value))[key] = censor;
      continue;
    }
    const child = value[key];
    if (!isContainer(child)) continue;
    const redacted = apply(child, next, censor, depth + 1);
    if (redacted !== child) (out ??= copyOf(value))[key] = redacted;
  }
  if (node.any) {
    const source = out ?? value;
    for (const key in source) {
      if (!Object.hasOwn(source, key)) continue;
      const child = source[key];
      if (!isContainer(child)) continue;
      const redacted = apply(child, node.any, censor, depth + 1);
      if (redacted !== child) (out ??= copyOf(value))[key] = redacted;
    }
  }
  return out ?? value;
}

/** A redactor for `paths`; throws on a path it does not support. Never mutates what it is given. */
export function createRedactor(paths: readonly string[], censor: string): Redactor {
  const root = build(paths);
  return <T>(value: T): T => (isContainer(value) ? (apply(value, root, censor, 0) as T) : value);
}
