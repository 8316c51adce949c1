import type { Entry } from 'ldapts';

/** Attributes whose values are binary and must be read as buffers (formatted by `subjectOf`). */
const BINARY_SUBJECTS = new Set(['objectguid', 'objectsid']);

/** The key of `entry` that holds attribute `name`; servers may return another case than asked. */
function keyOf(entry: Entry, name: string): string | undefined {
  if (name in entry) return name;
  const lower = name.toLowerCase();
  return Object.keys(entry).find((k) => k.toLowerCase() === lower);
}

/** Every value of an attribute as text (empty when absent). Never throws. */
export function valuesOf(entry: Entry, name: string): string[] {
  if (!name) return [];
  const key = keyOf(entry, name);
  if (key === undefined || key === 'dn') return [];
  const v = entry[key];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
}

/** The first value of an attribute, or undefined when absent or empty. */
export function firstOf(entry: Entry, name: string): string | undefined {
  const v = valuesOf(entry, name)[0];
  return v === undefined || v === '' ? undefined : v;
}

/** A non-negative integer attribute (uidNumber, gidNumber), or undefined when absent or malformed. */
export function integerOf(entry: Entry, name: string): number | undefined {
  const v = firstOf(entry, name);
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 0xffff_ffff ? n : undefined;
}

/** Attributes to ask for as buffers, given the configured subject attribute. */
export function binaryAttributes(subjectAttribute: string): string[] {
  return BINARY_SUBJECTS.has(subjectAttribute.toLowerCase()) ? [subjectAttribute] : [];
}

/** Active Directory's objectGUID byte order: the first three groups are little-endian. */
function guidText(b: Buffer): string {
  if (b.length !== 16) return b.toString('hex');
  const h = (from: number, to: number, reverse: boolean) => {
    const part = [...b.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}

/**
 * The stable subject of an entry: the configured attribute (binary GUIDs formatted as text), or
 * the DN when the attribute is not configured or the entry lacks it. Never throws.
 */
export function subjectOf(entry: Entry, attribute: string): string {
  if (attribute) {
    const key = keyOf(entry, attribute);
    const raw = key === undefined || key === 'dn' ? undefined : entry[key];
    const one = Array.isArray(raw) ? raw[0] : raw;
    if (Buffer.isBuffer(one) && one.length > 0) return attribute.toLowerCase() === 'objectguid' ? guidText(one) : one.toString('hex');
    if (typeof one === 'string' && one !== '') return one;
  }
  return entry.dn;
}

/**
 * The login name an entry carries: of a multi-valued attribute (uid may have several values) the
 * one equal to what the user typed, ignoring case, else the first. Undefined when absent.
 */
export function usernameOf(entry: Entry, attribute: string, typed: string): string | undefined {
  const values = valuesOf(entry, attribute).filter((v) => v !== '');
  return values.find((v) => v.toLowerCase() === typed.toLowerCase()) ?? values[0];
}
