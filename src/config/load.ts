import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ENV_VARS, parseEnvValue } from './env.js';
import { configSchema, type Config } from './schema.js';

/** One problem with the configuration, named by its dotted path. */
export interface ConfigProblem {
  path: string;
  message: string;
  source?: string;
}

/** Thrown by loadConfig with every problem found, not just the first. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ConfigSources {
  /** YAML file path (from --config or UNIXID_CONFIG). */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, as dotted path -> value. */
  flags?: Record<string, unknown>;
}

type Tree = Record<string, unknown>;

/** Path segments that would lead out of the tree into Object.prototype; no config key is named so. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Write `value` at a dotted path, creating objects on the way. Returns a problem instead for a path through the prototype. */
function setPath(tree: Tree, dotted: string, value: unknown): ConfigProblem | undefined {
  const parts = dotted.split('.');
  if (parts.some((p) => FORBIDDEN_SEGMENTS.has(p))) return { path: dotted, message: 'unknown key' };
  let node: Tree = tree;
  for (const part of parts.slice(0, -1)) {
    // Own properties only: never walk into something the tree inherits.
    const next = Object.hasOwn(node, part) ? node[part] : undefined;
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
  return undefined;
}

/** Turn zod issues into dotted-path problems (unknown keys are named individually). */
export function problemsFromZod(error: z.ZodError): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: base ? `${base}.${key}` : key, message: 'unknown key' });
    } else {
      out.push({ path: base, message: issue.message });
    }
  }
  return out;
}

/** Read the YAML file (if any) into a plain object; a missing file or bad YAML is a problem, not a crash. */
async function readYaml(file: string): Promise<{ tree: Tree; problems: ConfigProblem[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { tree: {}, problems: [{ path: '', source: file, message: `cannot read config file: ${(err as Error).message}` }] };
  }
  try {
    const doc: unknown = parseYaml(text);
    if (doc === null || doc === undefined) return { tree: {}, problems: [] };
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      return { tree: {}, problems: [{ path: '', source: file, message: 'the config file must hold a YAML mapping' }] };
    }
    return { tree: doc as Tree, problems: [] };
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    return { tree: {}, problems: [{ path: '', source: file, message: `invalid YAML${where}: ${(err as Error).message.split('\n')[0]}` }] };
  }
}

/**
 * Merge defaults < YAML file < environment < flags and validate the result with the schema.
 * Rejects with a ConfigError listing every problem at once.
 */
export async function loadConfig(sources: ConfigSources): Promise<Config> {
  const env = sources.env ?? {};
  const problems: ConfigProblem[] = [];
  const file = sources.file ?? env.UNIXID_CONFIG;
  let tree: Tree = {};
  if (file) {
    const read = await readYaml(file);
    tree = read.tree;
    problems.push(...read.problems);
  }
  for (const v of ENV_VARS) {
    const raw = env[v.name];
    if (raw !== undefined && raw !== '') setPath(tree, v.path, parseEnvValue(v.kind, raw));
  }
  for (const [path, value] of Object.entries(sources.flags ?? {})) {
    const problem = setPath(tree, path, value);
    if (problem) problems.push(problem);
  }

  const result = configSchema.safeParse(tree);
  if (!result.success) problems.push(...problemsFromZod(result.error));
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data!;
}
