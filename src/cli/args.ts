import { parseArgs } from 'node:util';

/** Flags every subcommand accepts, and the config key each sets. */
export const CONFIG_FLAGS = {
  issuer: 'issuer',
  port: 'server.port',
  host: 'server.host',
  'redis-url': 'store.redisUrl',
  'pam-service': 'pam.service',
  'data-dir': 'dataDir',
  'log-level': 'logging.level',
  backend: 'backend.type',
} as const;

export interface ParsedArgs {
  command: string;
  positionals: string[];
  configFile?: string;
  flags: Record<string, unknown>;
  /** try-login: read the password from standard input instead of a prompt. */
  stdin: boolean;
  /** Machine-readable output where a command supports it. */
  json: boolean;
  /** kube-config: path of unixid's CA certificate as the apiserver will see it. */
  caFile?: string;
  /** keys generate: write the new key set to this file (mode 0600) instead of stdout. */
  out?: string;
  help: boolean;
}

/** Parse argv (without node and script). Throws a TypeError with a readable message on unknown flags. */
export function parseCommandLine(argv: string[]): ParsedArgs {
  const options = {
    config: { type: 'string', short: 'c' },
    set: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
    stdin: { type: 'boolean' },
    json: { type: 'boolean' },
    'ca-file': { type: 'string' },
    out: { type: 'string' },
    ...Object.fromEntries(Object.keys(CONFIG_FLAGS).map((k) => [k, { type: 'string' }])),
  } as const;
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const flags: Record<string, unknown> = {};
  for (const [flag, path] of Object.entries(CONFIG_FLAGS)) {
    const v = (values as Record<string, unknown>)[flag];
    if (typeof v === 'string') flags[path] = flag === 'port' ? Number(v) : v;
  }
  for (const assignment of (values.set as string[] | undefined) ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new TypeError(`--set expects key.path=value, got '${assignment}'`);
    const raw = assignment.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the text
    }
    flags[assignment.slice(0, eq)] = value;
  }
  const [command = 'serve', ...rest] = positionals;
  return {
    command,
    positionals: rest,
    ...(typeof values.config === 'string' ? { configFile: values.config } : {}),
    flags,
    stdin: values.stdin === true,
    json: values.json === true,
    ...(typeof values['ca-file'] === 'string' ? { caFile: values['ca-file'] } : {}),
    ...(typeof values.out === 'string' ? { out: values.out } : {}),
    help: values.help === true,
  };
}
