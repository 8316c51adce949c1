// Baseline: bare PAM transactions through unixid's own binding and thread pool, in a process with
// the same pam_wrapper environment: what PAM (pam_matrix here) costs per transaction, with no
// HTTP, OIDC or Redis around it. BENCH_PAM = {service, op: pamLogin|pamAccount, threads, users}.
import { createNativePool } from '../../src/native/native-pool.js';
import type { PamOutcome } from '../../src/native/binding.js';
import { serveOpLoop } from './op-loop.js';

interface Settings {
  service: string;
  op: 'pamLogin' | 'pamAccount';
  threads: number;
  users: { username: string; password: string }[];
}

const settings = JSON.parse(process.env.BENCH_PAM ?? '{}') as Settings;

serveOpLoop(async () => {
  const pool = createNativePool({ name: 'pam', threads: settings.threads, maxQueue: 256, timeoutMs: 15_000 });
  return {
    async op(seq) {
      const user = settings.users[seq % settings.users.length]!;
      let outcome: PamOutcome;
      if (settings.op === 'pamLogin') {
        // As the PAM backend does it: a copy of the password, which the pool zero-fills once the addon has its own.
        const password = new TextEncoder().encode(user.password);
        outcome = await pool.run<PamOutcome>({ op: 'pamLogin', service: settings.service, username: user.username, password, rhost: '127.0.0.1' });
      } else {
        outcome = await pool.run<PamOutcome>({ op: 'pamAccount', service: settings.service, username: user.username, rhost: '127.0.0.1' });
      }
      return outcome.codeName === 'PAM_SUCCESS';
    },
    close: () => pool.close(),
  };
});
