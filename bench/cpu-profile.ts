// Preloaded into a unixid server (NODE_OPTIONS=--import) when the bench runs with --cpu-prof DIR:
// node refuses --cpu-prof in NODE_OPTIONS, and the harness owns the server's command line, so the
// profile is taken through the inspector and written when the process exits. BENCH_CPU_PROF_DIR.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  // A same-thread inspector session answers synchronously, so this completes inside 'exit'.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `unixid-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
