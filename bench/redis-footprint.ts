import { redisCli } from '../test/harness/redis.js';

/** Keys of one kind (the model name after the prefix: Session, Grant, grant, uid, RefreshToken, ...). */
export interface KeyKind {
  count: number;
  /** Mean `MEMORY USAGE` of a sample of keys of this kind, bytes. */
  meanBytes: number;
}

const SAMPLE = 40;

/**
 * Count the keys under `prefix` by kind and measure a sample of each with MEMORY USAGE (SAMPLES 0:
 * every element). Rejects when redis-cli fails.
 */
export async function keyFootprint(port: number, prefix: string): Promise<Record<string, KeyKind>> {
  const keys = (await redisCli(port, ['--scan', '--pattern', `${prefix}*`])).split('\n').filter(Boolean);
  const byKind = new Map<string, string[]>();
  for (const k of keys) {
    const kind = k.slice(prefix.length).split(':')[0]!;
    byKind.set(kind, [...(byKind.get(kind) ?? []), k]);
  }
  const out: Record<string, KeyKind> = {};
  for (const [kind, list] of byKind) {
    const sample = list.slice(0, SAMPLE);
    let total = 0;
    for (const k of sample) total += Number(await redisCli(port, ['MEMORY', 'USAGE', k, 'SAMPLES', '0'])) || 0;
    out[kind] = { count: list.length, meanBytes: Math.round(total / sample.length) };
  }
  return out;
}

/** Keys under `prefix` that have no TTL (at most 20 names): a Lua pass over KEYS, fine for a bench Redis. */
export async function keysWithoutTtl(port: number, prefix: string): Promise<string[]> {
  const script =
    "local out = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do if #out < 20 and redis.call('PTTL', k) == -1 then out[#out + 1] = k end end return out";
  return (await redisCli(port, ['EVAL', script, '0', `${prefix}*`])).split('\n').filter(Boolean);
}
