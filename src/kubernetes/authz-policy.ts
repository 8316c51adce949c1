import { createHash } from 'node:crypto';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { problemsFromZod, type ConfigProblem } from '../config/load.js';

/*
 * The SubjectAccessReview policy: a YAML file with a list of rules, in the spirit of
 * k8s-keystone-auth's v2 policy (subjects -> verbs on namespace/resource patterns, plus
 * non-resource paths). See config/authz-policy.example.yaml for the documented format.
 *
 * Pattern lists (every list of strings in a rule):
 *   - `*` matches anything; `team-*` or `/apis/*` is a glob (`*` spans any characters, `/` too).
 *   - `!pattern` excludes what it matches; a list of only exclusions means "anything else".
 *   - An empty request value (no namespace: cluster-scoped or all-namespaces requests; no name:
 *     list/create; the core API group) is matched only by `*` or by `""` itself, never by an
 *     exclusion-only list: `namespace: "!kube-system"` must not grant `get pods --all-namespaces`
 *     (which would show kube-system) or cluster-scoped objects such as nodes.
 * Decision: any matching deny rule denies; otherwise any matching allow rule allows; otherwise
 * no opinion (the apiserver asks its next authorizer, e.g. RBAC). Rule order does not matter.
 */

/** What a SubjectAccessReview asks, normalised across v1 and v1beta1. */
export interface AccessRequest {
  user: string;
  groups: readonly string[];
  resource?: { verb: string; namespace: string; group: string; resource: string; subresource: string; name: string };
  nonResource?: { verb: string; path: string };
}

export interface Decision {
  decision: 'allow' | 'deny' | 'none';
  /** Index of the deciding rule in `rules`, when one decided. */
  rule?: number;
  reason: string;
}

/** A validated, compiled policy. */
export interface Policy {
  readonly ruleCount: number;
  /** Decide a request; pure and never throws. */
  decide(request: AccessRequest): Decision;
}

/** A policy file that cannot be used, with every problem and its dotted path. */
export class PolicyError extends Error {
  readonly problems: ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    super(`invalid authorization policy ${source}:\n${problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`).join('\n')}`);
    this.name = 'PolicyError';
    this.problems = problems;
  }
}

// ---- format ----------------------------------------------------------------------------------

const stripNot = (p: string) => (p.startsWith('!') ? p.slice(1) : p);
const patterns = (check: (p: string) => boolean, message: string) =>
  z
    .array(z.string().refine((p) => p !== '!' && check(stripNot(p)), message))
    .min(1, 'must list at least one pattern');
const anyValue = patterns(() => true, 'a pattern, optionally negated with !');
const nonEmpty = patterns((p) => p !== '', 'a non-empty pattern, optionally negated with !');
const verbs = patterns((p) => /^([a-z]+|\*)$/.test(p), 'a lowercase verb (get, list, watch, create, ...) or *').describe('Verbs, e.g. [get, list, watch] or ["*"].');

const resourceSchema = z
  .object({
    verbs,
    // One pattern or a list; a single string is the common case (`namespace: "!kube-system"`).
    namespace: z
      .preprocess((v) => (typeof v === 'string' ? [v] : v), anyValue)
      .describe('Namespace pattern(s); "*" includes cluster-scoped and all-namespaces requests.'),
    resources: patterns((p) => /^[a-z0-9.*-]+(\/[a-z0-9.*-]+)?$/.test(p), 'a lowercase resource, resource/subresource, or a pattern such as pods/* or *').describe(
      'Resources; a subresource is written pods/log, and plain "pods" does not cover it.',
    ),
    apiGroups: anyValue.default(['*']).describe('API groups; "" is the core group. Default: all.'),
    names: anyValue.default(['*']).describe('Object names. Default: all.'),
  })
  .strict();

const nonResourceSchema = z
  .object({
    verbs,
    paths: patterns((p) => p === '*' || p.startsWith('/'), 'a path starting with / (a trailing * matches a prefix, e.g. /apis/*)').describe('URL paths, e.g. /healthz, /apis/*.'),
  })
  .strict();

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const whenObject = { when: (payload: { value: unknown }) => isObject(payload.value) };

const ruleSchema = z
  .object({
    name: z.string().min(1).optional().describe('Shown in the decision reason and the log.'),
    users: nonEmpty.optional().describe('Usernames as Kubernetes sees them (after the username prefix).'),
    groups: nonEmpty.optional().describe('Group names as Kubernetes sees them (after the groups prefix).'),
    effect: z.enum(['allow', 'deny']).default('allow'),
    resource: resourceSchema.optional(),
    nonResource: nonResourceSchema.optional(),
  })
  .strict()
  // Checked even when other fields are wrong, so that one run reports every problem.
  .refine((r) => r.users !== undefined || r.groups !== undefined, { ...whenObject, message: 'name users or groups (users: ["*"] means everyone)' })
  .refine((r) => (r.resource === undefined) !== (r.nonResource === undefined), { ...whenObject, message: 'give exactly one of resource or nonResource' });

const policySchema = z.object({ rules: z.array(ruleSchema).describe('Rules; order does not matter (deny wins).') }).strict();

// ---- compilation -----------------------------------------------------------------------------

type Matcher = (value: string) => boolean;
interface PatternList {
  include: Matcher[];
  exclude: Matcher[];
}

function compilePattern(p: string): Matcher {
  if (p === '*') return () => true;
  if (!p.includes('*')) return (v) => v === p;
  const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return (v) => re.test(v);
}

function compileList(list: readonly string[]): PatternList {
  const include: Matcher[] = [];
  const exclude: Matcher[] = [];
  for (const p of list) (p.startsWith('!') ? exclude : include).push(compilePattern(stripNot(p)));
  return { include, exclude };
}

/** One value against a list (see the header for the empty-value rule). */
function matchValue(list: PatternList, value: string): boolean {
  if (list.exclude.some((m) => m(value))) return false;
  if (list.include.length === 0) return value !== '';
  return list.include.some((m) => m(value));
}

interface CompiledRule {
  name: string | undefined;
  effect: 'allow' | 'deny';
  subjects(user: string, groups: readonly string[]): boolean;
  target(request: AccessRequest): boolean;
}

type RuleInput = z.infer<typeof ruleSchema>;

/**
 * Subjects: the rule applies when the user or one of the groups matches an inclusion (or when there
 * are only exclusions), and neither the user nor any group matches an exclusion. So
 * `groups: [developers, "!contractors"]` means developers who are not contractors.
 */
function compileSubjects(rule: RuleInput): CompiledRule['subjects'] {
  const users = compileList(rule.users ?? []);
  const groups = compileList(rule.groups ?? []);
  const anyInclusion = users.include.length + groups.include.length > 0;
  return (user, memberOf) => {
    if (users.exclude.some((m) => m(user))) return false;
    if (memberOf.some((g) => groups.exclude.some((m) => m(g)))) return false;
    if (!anyInclusion) return true;
    return users.include.some((m) => m(user)) || memberOf.some((g) => groups.include.some((m) => m(g)));
  };
}

function compileTarget(rule: RuleInput): CompiledRule['target'] {
  if (rule.resource) {
    const r = rule.resource;
    const v = compileList(r.verbs);
    const ns = compileList(r.namespace);
    const res = compileList(r.resources);
    const groups = compileList(r.apiGroups);
    const names = compileList(r.names);
    return ({ resource: a }) =>
      a !== undefined &&
      matchValue(v, a.verb) &&
      matchValue(ns, a.namespace) &&
      matchValue(res, a.subresource ? `${a.resource}/${a.subresource}` : a.resource) &&
      matchValue(groups, a.group) &&
      matchValue(names, a.name);
  }
  const n = rule.nonResource!;
  const v = compileList(n.verbs);
  const paths = compileList(n.paths);
  return ({ nonResource: a }) => a !== undefined && matchValue(v, a.verb) && matchValue(paths, a.path);
}

function describeRule(index: number, rule: CompiledRule): string {
  return `rules.${index}${rule.name ? ` (${rule.name})` : ''}`;
}

/** Parse and compile a policy from YAML text. Throws a PolicyError naming every problem by path. */
export function parsePolicy(text: string, source = 'policy'): Policy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    throw new PolicyError(source, [{ path: '', message: `invalid YAML${where}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  if (doc === null || doc === undefined) throw new PolicyError(source, [{ path: '', message: 'the policy file is empty (write `rules: []` for a policy without rules)' }]);
  const parsed = policySchema.safeParse(doc);
  if (!parsed.success) throw new PolicyError(source, problemsFromZod(parsed.error));

  const rules: CompiledRule[] = parsed.data.rules.map((r) => ({ name: r.name, effect: r.effect, subjects: compileSubjects(r), target: compileTarget(r) }));
  return {
    ruleCount: rules.length,
    decide(request) {
      let allow: number | undefined;
      for (const [i, rule] of rules.entries()) {
        if (!rule.target(request) || !rule.subjects(request.user, request.groups)) continue;
        if (rule.effect === 'deny') return { decision: 'deny', rule: i, reason: `denied by unixid policy ${describeRule(i, rule)}` };
        allow ??= i;
      }
      if (allow !== undefined) return { decision: 'allow', rule: allow, reason: `allowed by unixid policy ${describeRule(allow, rules[allow]!)}` };
      return { decision: 'none', reason: 'no unixid policy rule matches' };
    },
  };
}

/** Read and parse a policy file. Rejects with a PolicyError (unreadable file, bad YAML or bad rules). */
export async function loadPolicyFile(file: string): Promise<{ policy: Policy; digest: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PolicyError(file, [{ path: '', message: `cannot read the policy file: ${(err as Error).message}` }]);
  }
  return { policy: parsePolicy(text, file), digest: createHash('sha256').update(text).digest('hex') };
}

// ---- the live policy -------------------------------------------------------------------------

export interface PolicyStore {
  /** The policy in force: the last file that loaded cleanly. */
  current(): Policy;
  /** 1 for the policy loaded at start, +1 per successful reload. */
  readonly version: number;
  readonly loadedAt: Date;
  /** Why the file on disk is not the policy in force, or undefined when it is. */
  readonly lastError: string | undefined;
  /** Stop watching the file. */
  close(): void;
}

export interface PolicyStoreOptions {
  watch: boolean;
  /** Polling interval; polling (fs.watchFile) sees ConfigMap symlink swaps that fs.watch misses. Default 1000 ms. */
  intervalMs?: number;
}

/**
 * Load the policy file and, with `watch`, reload it when it changes. Rejects with a PolicyError when
 * the file is unusable at start (the caller reports it and stops); later a broken file keeps the old
 * policy and is logged, and the next good version is picked up.
 */
export async function createPolicyStore(file: string, logger: Logger, options: PolicyStoreOptions): Promise<PolicyStore> {
  const log = logger.child({ policyFile: file });
  let { policy, digest } = await loadPolicyFile(file);
  let version = 1;
  let loadedAt = new Date();
  let lastError: string | undefined;
  let reloading = false;
  let again = false;
  let closed = false;
  log.info({ rules: policy.ruleCount, version }, 'authorization policy loaded');

  async function reload(): Promise<void> {
    if (reloading) {
      again = true;
      return;
    }
    reloading = true;
    try {
      do {
        again = false;
        try {
          const next = await loadPolicyFile(file);
          if (closed) return;
          lastError = undefined;
          if (next.digest === digest) continue;
          ({ policy, digest } = next);
          version += 1;
          loadedAt = new Date();
          log.info({ rules: policy.ruleCount, version }, 'authorization policy reloaded');
        } catch (err) {
          lastError = err instanceof PolicyError ? err.problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ') : (err as Error).message;
          log.error({ problems: err instanceof PolicyError ? err.problems : undefined, err: err instanceof PolicyError ? undefined : err, version }, 'authorization policy file is broken; keeping the policy in force');
        }
      } while (again && !closed);
    } finally {
      reloading = false;
    }
  }

  const interval = options.intervalMs ?? 1000;
  let settle: NodeJS.Timeout | undefined;
  const onChange = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size && curr.ctimeMs === prev.ctimeMs) return;
    clearTimeout(settle);
    if (curr.nlink === 0 && curr.mtimeMs === 0) {
      // Between the steps of some editors' saves; the next change brings it back.
      lastError = 'the policy file is missing';
      log.warn('authorization policy file disappeared; keeping the policy in force');
      return;
    }
    // Reload once the file has stopped changing for one interval, so that an editor writing in
    // place (truncate, then write) is not caught half-way and reported as broken.
    settle = setTimeout(() => void reload(), interval);
    settle.unref();
  };
  if (options.watch) watchFile(file, { interval, persistent: false }, onChange);

  return {
    current: () => policy,
    get version() {
      return version;
    },
    get loadedAt() {
      return loadedAt;
    },
    get lastError() {
      return lastError;
    },
    close() {
      closed = true;
      clearTimeout(settle);
      if (options.watch) unwatchFile(file, onChange);
    },
  };
}
