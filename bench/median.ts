/**
 * The middle item by `key`. For an even count there are two; `even` says which to take, and the
 * cautious one depends on the figure: the lower of two ratios to a baseline, the higher of two
 * latencies or start-up times.
 */
export function median<T>(items: readonly T[], key: (item: T) => number, even: 'lower' | 'higher'): T {
  if (items.length === 0) throw new Error('no items');
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  const mid = (sorted.length - 1) / 2;
  return sorted[even === 'lower' ? Math.floor(mid) : Math.ceil(mid)]!;
}
