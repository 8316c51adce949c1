/** What `npm run bench -- [scenario...] [--flags]` asked for. */
export interface BenchOptions {
  scenarios: string[];
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  minutes: number;
  repeat: number;
  logLevel: string;
  /** Write a V8 CPU profile of every unixid server into this directory. */
  cpuProfDir?: string;
  /** Where results.json goes. */
  out: string;
  help: boolean;
}

export const USAGE = `npm run bench -- [SCENARIO...] [options]

Scenarios: webhook discovery refresh login device isolation memory (the default set), soak (alone).

  --seconds N        measured window of each run (default 5)
  --warmup N         unrecorded warm-up before each window (default 2; at least 8 for the
                     login's windows, and each webhook server first runs max(N, 8) s once)
  --concurrency N    closed-loop connections for the HTTP scenarios (default 8)
  --minutes N        soak length (default 10)
  --repeat N         run each measurement N times, keep the one with the least CPU/op (default 1);
                     the webhook runs N pairs of bare verifier and unixid and takes the median ratio
  --log-level L      unixid's log level (default info, as in production)
  --cpu-prof DIR     write a V8 CPU profile of each unixid server into DIR
  --out FILE         results file (default bench/results.json)
`;

/** Parse argv; throws with a message naming the bad flag. */
export function parseOptions(argv: string[], defaultOut: string): BenchOptions {
  const o: BenchOptions = { scenarios: [], seconds: 5, warmupSeconds: 2, concurrency: 8, minutes: 10, repeat: 1, logLevel: 'info', out: defaultOut, help: false };
  const number = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--seconds':
        o.seconds = number(flag, value(), 0.5);
        break;
      case '--warmup':
        o.warmupSeconds = number(flag, value(), 0);
        break;
      case '--concurrency':
        o.concurrency = Math.floor(number(flag, value(), 1));
        break;
      case '--minutes':
        o.minutes = number(flag, value(), 0.1);
        break;
      case '--repeat':
        o.repeat = Math.floor(number(flag, value(), 1));
        break;
      case '--log-level': {
        const v = value();
        if (!v) throw new Error('--log-level needs a level');
        o.logLevel = v;
        break;
      }
      case '--cpu-prof': {
        const v = value();
        if (!v) throw new Error('--cpu-prof needs a directory');
        o.cpuProfDir = v;
        break;
      }
      case '--out': {
        const v = value();
        if (!v) throw new Error('--out needs a file');
        o.out = v;
        break;
      }
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
        o.scenarios.push(a);
    }
  }
  return o;
}
