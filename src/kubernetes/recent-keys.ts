/**
 * The last `capacity` distinct 32-bit keys added, the oldest forgotten first. Asking and adding
 * allocate nothing: the keys live in typed arrays (an open-addressing table and a ring in the
 * order they came), not as heap objects. That is the point. The webhook's admission filter keeps
 * every token's first sight for as long as hundreds of reviews take; held as strings in a Set,
 * each one outlived two scavenges and was promoted to the old generation (with the Set's rebuilt
 * tables), about 70 bytes per uncached review for the major collector to clear up later.
 */
export interface RecentKeys {
  has(key: number): boolean;
  /**
   * Remember `key`: true when it was new (when full, the oldest key is forgotten for it), false
   * when it was already remembered (then nothing changes). One probe answers both questions.
   */
  add(key: number): boolean;
  readonly size: number;
}

/** Spreads a key over the table: keys that differ only in high bits still land apart. */
function home(key: number, mask: number): number {
  return Math.imul(key ^ (key >>> 16), 0x45d9f3b) & mask;
}

export function createRecentKeys(capacity: number): RecentKeys {
  const cap = Math.max(1, Math.floor(capacity));
  // At most half full, so a probe ends after a slot or two.
  let tableSize = 2;
  while (tableSize < 2 * cap) tableSize *= 2;
  const mask = tableSize - 1;
  const keys = new Int32Array(tableSize);
  const used = new Uint8Array(tableSize);
  const ring = new Int32Array(cap);
  let oldest = 0;
  let count = 0;

  /** The slot holding `key`, or the empty slot where it would go. */
  const slotOf = (key: number): number => {
    let i = home(key, mask);
    while (used[i] === 1 && keys[i] !== key) i = (i + 1) & mask;
    return i;
  };

  /** Take `key` out of the table, shifting later keys of its probe run back (no tombstones). */
  const remove = (key: number): void => {
    let hole = slotOf(key);
    if (used[hole] !== 1) return;
    used[hole] = 0;
    for (let j = (hole + 1) & mask; used[j] === 1; j = (j + 1) & mask) {
      const h = home(keys[j]!, mask);
      // The key at j stays if its home lies cyclically in (hole, j]: moving it would hide it.
      const stays = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (stays) continue;
      keys[hole] = keys[j]!;
      used[hole] = 1;
      used[j] = 0;
      hole = j;
    }
  };

  return {
    has(key) {
      return used[slotOf(key | 0)] === 1;
    },
    add(key) {
      const k = key | 0;
      let slot = slotOf(k);
      if (used[slot] === 1) return false;
      if (count === cap) {
        remove(ring[oldest]!);
        ring[oldest] = k;
        oldest = (oldest + 1) % cap;
        // Looked up again: the removal may have moved the empty slot this key belongs in.
        slot = slotOf(k);
      } else {
        ring[(oldest + count) % cap] = k;
        count++;
      }
      keys[slot] = k;
      used[slot] = 1;
      return true;
    },
    get size() {
      return count;
    },
  };
}
