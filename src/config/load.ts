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

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node: Tree = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
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
  for (const [path, value] of Object.entries(sources.flags ?? {})) setPath(tree, path, value);

  const result = configSchema.safeParse(tree);
  if (!result.success) problems.push(...problemsFromZod(result.error));
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data!;
}
