import type { Config } from '../config/schema.js';
import { startUnixid } from '../main.js';

/**
 * `unixid serve`: start, then on SIGTERM/SIGINT stop accepting (readiness goes false first),
 * let in-flight requests finish within the grace period, close the store and exit 0.
 */
export async function serve(config: Config, options: { production: boolean }): Promise<void> {
  const running = await startUnixid(config, { production: options.production });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down');
    // Logs are written asynchronously: flush them before the process goes.
    const exit = (code: number) => running.logger.flush(() => process.exit(code));
    running
      .close()
      .then(() => exit(0))
      .catch((err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
