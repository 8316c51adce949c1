import { stringify } from 'yaml';
import type { z } from 'zod';
import { ENV_VARS } from './env.js';
import { configSchema } from './schema.js';

interface Def {
  type: string;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Peel default/prefault/optional wrappers; keep the outermost description and the default. */
function unwrap(schema: z.ZodType): { core: z.ZodType; description?: string; value?: unknown; optional: boolean } {
  let s = schema;
  let description = schema.description;
  let value: unknown;
  let optional = false;
  for (;;) {
    const d = defOf(s);
    if (d.type === 'default' || d.type === 'prefault') {
      if (value === undefined) value = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
    } else if (d.type === 'optional') {
      optional = true;
    } else break;
    s = d.innerType!;
    description ??= s.description;
  }
  return { core: s, ...(description ? { description } : {}), value, optional };
}

function typeName(s: z.ZodType): string {
  const d = defOf(s);
  if (d.type === 'enum' && d.entries) return Object.values(d.entries).join(' | ');
  if (d.type === 'array') return `list of ${typeName(unwrap(d.element!).core)}`;
  if (d.type === 'union' && d.options) return d.options.map(typeName).join(' | ');
  return d.type;
}

const envFor = new Map(ENV_VARS.map((v) => [v.path, v.name]));

function render(schema: z.ZodType, path: string[], indent: string, out: string[]): void {
  const shape = defOf(schema).shape!;
  for (const [key, child] of Object.entries(shape)) {
    const { core, description, value, optional } = unwrap(child);
    const dotted = [...path, key].join('.');
    const env = envFor.get(dotted);
    if (description) out.push(`${indent}# ${description}${env ? ` (env ${env})` : ''}`);
    if (defOf(core).type === 'object') {
      const header = out.push(`${indent}${key}:`) - 1;
      const start = out.length;
      render(core, [...path, key], `${indent}  `, out);
      // A section whose keys are all unset would read as null; say it is an empty mapping.
      if (out.slice(start).every((l) => l.trimStart().startsWith('#'))) out[header] = `${indent}${key}: {}`;
      continue;
    }
    if (value === undefined && optional) {
      out.push(`${indent}# ${key}: <${typeName(core)}>`);
      continue;
    }
    const text = stringify({ [key]: value }, { lineWidth: 0 }).trimEnd().split('\n');
    out.push(...text.map((l) => indent + l));
  }
}

/** The example config: every key with its doc line, its env variable and its default. */
export function renderExampleConfig(): string {
  const out = [
    '# unixid configuration: every key, with its default. Later sources win:',
    '# built-in defaults < this file (--config FILE or UNIXID_CONFIG) < UNIXID_* environment < command-line flags.',
    '# Generated from src/config/schema.ts (`unixid config-example`); `unixid check-config` validates a file.',
    '',
  ];
  render(configSchema, [], '', out);
  return `${out.join('\n')}\n`;
}
