import { readdirSync, readFileSync } from 'node:fs';

/** Host processes whose command line holds `marker` (a job's or workspace's shell shows its command there). */
export function hostProcessesWith(marker: string): { pid: number; uid: number }[] {
  const found: { pid: number; uid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      found.push({ pid: Number(entry), uid });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
