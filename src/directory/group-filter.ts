/** Turns raw group names into the names a token carries: include, then exclude, then prefix. */
export type GroupFilter = (names: readonly string[]) => string[];

export interface GroupFilterOptions {
  /** Glob patterns (`*`, `?`); when non-empty only matching groups are kept. */
  include: readonly string[];
  /** Glob patterns of groups to drop, applied after include. */
  exclude: readonly string[];
  /** Added in front of every kept name, e.g. `unix:`. */
  prefix: string;
}

/** Compile a `*`/`?` glob into an anchored RegExp; every other character is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'u');
}

/**
 * Build the filter once from config. Names are de-duplicated and sorted, and `system:` names are
 * always dropped: kube-apiserver reserves them and a directory group must never grant them.
 */
export function createGroupFilter(options: GroupFilterOptions): GroupFilter {
  const include = options.include.map(globToRegExp);
  const exclude = options.exclude.map(globToRegExp);
  return (names) => {
    const out = new Set<string>();
    for (const name of names) {
      if (!name || name.startsWith('system:')) continue;
      if (include.length > 0 && !include.some((r) => r.test(name))) continue;
      if (exclude.some((r) => r.test(name))) continue;
      const prefixed = options.prefix + name;
      if (prefixed.startsWith('system:')) continue;
      out.add(prefixed);
    }
    return [...out].sort();
  };
}
