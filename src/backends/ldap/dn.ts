/**
 * Escape a value for use inside a DN attribute value (RFC 4514 section 2.4), so a login name put
 * into `userDnTemplate` can never add an RDN or end the value early. Never throws.
 */
export function escapeDnValue(value: string): string {
  const chars = [...value];
  return chars
    .map((ch, i) => {
      if (ch === '\0') return '\\00';
      if ('"+,;<>\\='.includes(ch)) return `\\${ch}`;
      // Leading '#' would read as a BER-encoded value; leading/trailing spaces are trimmed by servers.
      if ((ch === '#' && i === 0) || (ch === ' ' && (i === 0 || i === chars.length - 1))) return `\\${ch}`;
      return ch;
    })
    .join('');
}

/** Fill `{name}` placeholders of a DN template with RFC 4514-escaped values; unknown names stay as they are. */
export function fillDnTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) => {
    const v = values[name];
    return v === undefined ? whole : escapeDnValue(v);
  });
}

/**
 * A comparable form of a DN: special characters escaped one way (OpenLDAP returns `\2C` where a
 * template wrote `\,`), spaces around separators dropped, everything folded to lower case.
 * Directories compare the attributes unixid meets (uid, cn, ou, dc) case-insensitively, and may
 * return `uid=Alice, ou=People` for `uid=alice,ou=people`.
 */
export function normalizeDn(dn: string): string {
  return dn
    .trim()
    .replace(/\\([0-9a-fA-F]{2})/g, (whole, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return '"+,;<>\\= #'.includes(ch) ? `\\${ch}` : whole.toLowerCase();
    })
    .replace(/\s*(?<!\\)([,=+])\s*/g, '$1')
    .toLowerCase();
}

/** Whether two DNs name the same entry, as far as unixid can tell without the schema. */
export function sameDn(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}
