import { Filter, FilterParser, OrFilter } from 'ldapts';

/**
 * Fill `{name}` placeholders of a filter template with RFC 4515-escaped values and parse the result
 * into a filter object. Each value is escaped in one pass before parsing, so `*`, `(`, `)`, `\` and
 * NUL in user input can only ever be literal characters of one assertion value. Throws when the
 * template itself is not a valid filter (the config schema checks that at start-up).
 */
export function fillFilter(template: string, values: Readonly<Record<string, string>>): Filter {
  const text = template.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) => {
    const v = values[name];
    return v === undefined ? whole : Filter.escape(v);
  });
  return FilterParser.parseString(text);
}

/** One filter matching any of `filters`; a single filter is returned as it is. Throws on an empty list. */
export function anyOf(filters: Filter[]): Filter {
  if (filters.length === 0) throw new Error('anyOf needs at least one filter');
  if (filters.length === 1) return filters[0]!;
  return new OrFilter({ filters });
}
