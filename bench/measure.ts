import { readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time a process has used so far, in ms (user + system, all its threads, from /proc). */
export function processCpuMs(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat (after the parenthesised command name) are utime and stime, in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Calls per second with `inFlight` calls outstanding, over `total` calls. */
export async function throughput(total: number, inFlight: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < total) await call(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Latencies in milliseconds of `count` sequential calls. */
export async function latencies(count: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    await call(i);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const median = (values: number[]) => percentile(values, 50);

/** Runs `fn` with at most `limit` of its calls in flight, over indexes 0..count-1. */
export async function forEachLimited(count: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}
