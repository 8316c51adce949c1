#!/usr/bin/env node
import { ConfigError, loadConfig } from '../config/load.js';
import { parseCommandLine, type ParsedArgs } from './args.js';
import { checkConfig } from './check-config.js';
import { serve } from './serve.js';

const USAGE = `usage: unixid <command> [options]

commands:
  serve                 start the identity provider (default)
  check-config          validate the configuration and print every problem
  try-login USER        check a login end to end and show the claims (password from a prompt, or --stdin)
  config-example        print an example config documenting every key
  kube-config [PART]    print apiserver flags, AuthenticationConfiguration, webhook kubeconfigs
                        (PART: flags | authn-config | authn-config-v1beta1 | webhook-kubeconfig |
                        authz-kubeconfig | authz-config | kubeconfig CLUSTER [GRANT [USER]])
  revoke USER           end every session and token of a user (all replicas, needs Redis)
  unban USER|IP         lift a login ban (Redis store only)
  keys generate [--out FILE] | list [--json] | rotate
                        signing keys: a new key set for a Secret, the ring with roles and times,
                        publish the next key now (redis source)
  help                  show this text

options:
  -c, --config FILE     YAML config file (or UNIXID_CONFIG)
  --issuer URL          issuer URL (UNIXID_ISSUER)
  --host ADDR           listen address (UNIXID_HOST)
  --port N              listen port (UNIXID_PORT)
  --redis-url URL       Redis URL (UNIXID_REDIS_URL)
  --pam-service NAME    PAM service (UNIXID_PAM_SERVICE)
  --backend pam|ldap    credential backend (UNIXID_BACKEND)
  --data-dir DIR        where generated keys live (UNIXID_DATA_DIR)
  --log-level LEVEL     log level (UNIXID_LOG_LEVEL)
  --set key.path=VALUE  set any config key (JSON values accepted), repeatable
  --ca-file PATH        kube-config: where the apiserver finds unixid's CA certificate
`;

async function run(args: ParsedArgs): Promise<number> {
  const production = process.env.NODE_ENV === 'production';
  const sources = { file: args.configFile, env: process.env, flags: args.flags };
  switch (args.command) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'config-example': {
      const { renderExampleConfig } = await import('../config/example.js');
      process.stdout.write(renderExampleConfig());
      return 0;
    }
    case 'check-config':
      return checkConfig(sources, production, process.stdout);
    case 'serve':
      await serve(await loadConfig(sources), { production });
      return -1; // keeps running; exits from its signal handlers
    case 'kube-config': {
      const { kubeConfig } = await import('./kube-config.js');
      return kubeConfig(await loadConfig(sources), args, process.stdout, args.caFile ? { caFile: args.caFile } : {});
    }
    case 'revoke': {
      const { revoke } = await import('./revoke.js');
      return revoke(await loadConfig(sources), args, process.stdout);
    }
    case 'keys': {
      const { keys } = await import('./keys.js');
      return keys(await loadConfig(sources), args, process.stdout);
    }
    case 'unban': {
      const { unban } = await import('./unban.js');
      return unban(await loadConfig(sources), args, process.stdout);
    }
    case 'try-login': {
      const { tryLogin } = await import('./try-login.js');
      return tryLogin(await loadConfig(sources), args, { production });
    }
    default:
      process.stderr.write(`unknown command '${args.command}'\n\n${USAGE}`);
      return 2;
  }
}

let args: ParsedArgs;
try {
  args = parseCommandLine(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
run(args).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`unixid: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
