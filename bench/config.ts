/**
 * Sizes and durations of the benchmark suite. The defaults are the sizes;
 * BENCH_QUICK=1 shrinks everything for a smoke run (figures then mean little), and each
 * BENCH_* variable overrides one size.
 */
export interface BenchConfig {
  /** Rounds of every figure: each figure is the median over them. */
  runs: number;
  /** Create calls per throughput round (64 in flight). */
  createCalls: number;
  /** Secrets in the org for "with 1,000 existing" and for "among 100,000" / "with 100,000 existing". */
  smallCount: number;
  largeCount: number;
  /** Sequential calls per latency round (list, echo). */
  latencyCalls: number;
  /** Launches per job-launch latency round, and secrets per launch. */
  launches: number;
  secretsPerJob: number;
  /** Jobs launched in all before the memory figure. */
  jobCount: number;
  /** vesslctl cold starts per round. */
  cliStarts: number;
  rewrapCount: number;
  soakSeconds: number;
  engines: ('sqlite' | 'postgres')[];
  outDir: string;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${raw} must be a positive integer`);
  return n;
}

function engines(): BenchConfig['engines'] {
  const raw = process.env.BENCH_ENGINES ?? 'sqlite,postgres';
  const list = raw.split(',').map((e) => e.trim());
  for (const e of list) if (e !== 'sqlite' && e !== 'postgres') throw new Error(`BENCH_ENGINES: unknown engine "${e}" (sqlite, postgres)`);
  return list as BenchConfig['engines'];
}

export function benchConfig(): BenchConfig {
  const quick = process.env.BENCH_QUICK === '1';
  return {
    runs: int('BENCH_RUNS', 3),
    createCalls: int('BENCH_CALLS', quick ? 200 : 2000),
    smallCount: int('BENCH_SMALL_COUNT', quick ? 100 : 1_000),
    largeCount: int('BENCH_LARGE_COUNT', quick ? 1_000 : 100_000),
    latencyCalls: int('BENCH_LATENCY_CALLS', quick ? 50 : 500),
    launches: int('BENCH_LAUNCHES', quick ? 10 : 100),
    secretsPerJob: int('BENCH_SECRETS_PER_JOB', 20),
    jobCount: int('BENCH_JOB_COUNT', quick ? 50 : 10_000),
    cliStarts: int('BENCH_CLI_STARTS', quick ? 2 : 10),
    rewrapCount: int('BENCH_REWRAP_COUNT', quick ? 1_000 : 100_000),
    soakSeconds: int('BENCH_SOAK_SECONDS', quick ? 5 : 300),
    engines: engines(),
    outDir: process.env.BENCH_OUT ?? 'bench/results',
  };
}
