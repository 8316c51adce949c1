import { ConfigError, loadConfig, type ConfigSources } from '../config/load.js';
import { insecureDefaults } from '../config/production.js';

/** `unixid check-config`: print every problem with its dotted path; exit code 0 only when valid. */
export async function checkConfig(sources: ConfigSources, production: boolean, out: NodeJS.WritableStream): Promise<number> {
  try {
    const config = await loadConfig(sources);
    const insecure = insecureDefaults(config);
    if (production && insecure.length > 0) {
      for (const p of insecure) out.write(`error: ${p.path}: ${p.message} (refused when NODE_ENV=production)\n`);
      return 1;
    }
    for (const p of insecure) out.write(`warning: ${p.path}: ${p.message}\n`);
    out.write(`configuration is valid (issuer ${config.issuer}, backend ${config.backend.type}, store ${config.store.redisUrl ? 'redis' : 'memory'})\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) out.write(`error: ${p.path || '(root)'}: ${p.message}${p.source ? ` [${p.source}]` : ''}\n`);
      out.write(`${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} found\n`);
      return 1;
    }
    throw err;
  }
}
