import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A bound on a ratio (`>= 0.40`, `<= 3`), on the value itself (`of: 'value'`: CPU time per call,
 * which the issue bounds in ms: a process's own CPU time is far steadier than wall time on a
 * shared machine), or a figure that is only reported.
 */
export type Target = { op: '>=' | '<='; bound: number; of?: 'value' } | { op: 'reported' };

/** One figure: the median value over the rounds, its same-run baseline, and their ratio. */
export interface Figure {
  figure: string;
  /** The storage engine, or the Kubernetes server a backend figure ran against. */
  engine: 'sqlite' | 'postgres' | 'kubernetes-1.20';
  value: number;
  unit: string;
  baseline: number;
  baselineUnit: string;
  /** Median over the rounds of value/baseline, each round measured against its own baseline. */
  ratio: number;
  target: Target;
  /** null when the figure is only reported. */
  pass: boolean | null;
  rounds: number;
  /** What the reader needs to judge the figure (sizes, counts at the time). */
  notes?: string;
}

export const atLeast = (bound: number): Target => ({ op: '>=', bound });
export const atMost = (bound: number): Target => ({ op: '<=', bound });
export const valueAtMost = (bound: number): Target => ({ op: '<=', bound, of: 'value' });
export const REPORTED: Target = { op: 'reported' };

export function judge(ratio: number, target: Target, value = ratio): boolean | null {
  if (target.op === 'reported') return null;
  const x = target.of === 'value' ? value : ratio;
  return target.op === '>=' ? x >= target.bound : x <= target.bound;
}

export const targetText = (t: Target) => (t.op === 'reported' ? 'reported' : `${t.of === 'value' ? 'value' : 'ratio'} ${t.op} ${t.bound}`);

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));
const passText = (p: boolean | null) => (p === null ? '-' : p ? 'pass' : 'FAIL');

export function markdownTable(figures: Figure[]): string {
  const rows = figures.map(
    (f) =>
      `| ${f.figure} | ${f.engine} | ${fmt(f.value)} ${f.unit} | ${fmt(f.baseline)} ${f.baselineUnit} | ${f.ratio.toFixed(3)} | ${targetText(f.target)} | ${passText(f.pass)} |`,
  );
  return ['| figure | engine | value | same-run baseline | ratio | target | result |', '|---|---|---|---|---|---|---|', ...rows].join('\n') + '\n';
}

/** Writes results.json and results.md into `dir`; returns the table. */
export function writeResults(dir: string, meta: Record<string, unknown>, figures: Figure[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ ...meta, figures }, null, 2) + '\n');
  const notes = figures.filter((f) => f.notes).map((f) => `- ${f.figure} (${f.engine}): ${f.notes}`);
  const table = markdownTable(figures);
  writeFileSync(path.join(dir, 'results.md'), [table, ...(notes.length ? ['', ...notes, ''] : [])].join('\n'));
  return table;
}
