import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Figure } from '../bench/report.js';
import { POSTGRES_ENABLED } from './support/postgres.js';
import { ROOT } from './support/processes.js';

/**
 * `npm run bench` at tiny sizes: the harness runs end to end against real servers and writes
 * well-formed results. Nothing here is timed and no figure is judged: at these sizes the
 * numbers mean nothing; the full run is `make bench`.
 */
const TINY: NodeJS.ProcessEnv = {
  BENCH_QUICK: '1',
  BENCH_RUNS: '1',
  BENCH_CALLS: '16',
  BENCH_SMALL_COUNT: '10',
  BENCH_LARGE_COUNT: '30',
  BENCH_LATENCY_CALLS: '5',
  BENCH_LAUNCHES: '2',
  BENCH_SECRETS_PER_JOB: '3',
  BENCH_JOB_COUNT: '4',
  BENCH_CLI_STARTS: '1',
  BENCH_REWRAP_COUNT: '20',
  BENCH_SOAK_SECONDS: '1',
};

/** Every figure the issue asks for, on every engine. */
const EXPECTED_FIGURES = [
  /^create-secret throughput, 64 in flight/,
  /^ceiling over create throughput: /,
  /^list one page of 100 among 30 secrets, p50$/,
  /^list one page of 100 among 30 secrets, p99$/,
  /^create throughput with 30 existing vs 10 existing$/,
  /^create throughput vs its ceiling /,
  /^server CPU per create /,
  /^job launch with 3 secrets, .* vs its floor, p50$/,
  /^job launch with 3 secrets, .* vs its floor, p99$/,
  /^server CPU per launch with 3 secrets, /,
  /^floor under a launch: .*, p50$/,
  /^floor under a launch: .*, p99$/,
  /^server memory after 30 secrets and 4 jobs$/,
  /^`vesslctl secret list -o json` cold start/,
  /^server memory after a 1-s mixed load$/,
  /^memory growth during the mixed load/,
  /^V8 heap after collections during the mixed load/,
  /^rewrap of 20 secrets$/,
  /^rewrap of 20 secrets, master keys in SoftHSM2 over PKCS#11$/,
];
/** PostgreSQL only: the round trip under a listing there. */
const POSTGRES_FIGURES = [/^one PostgreSQL round trip: .*, p50$/, /^one PostgreSQL round trip: .*, p99$/];

function runBench(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('npm run bench (smoke run at tiny sizes)', function () {
  this.timeout(240_000);
  const engines = POSTGRES_ENABLED ? ['sqlite', 'postgres'] : ['sqlite'];
  let out: string;
  let results: { figures: Figure[]; sizes: Record<string, number>; engines: string[] };
  let markdown: string;

  before(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'vessl-bench-smoke-'));
    const run = await runBench({ ...TINY, BENCH_ENGINES: engines.join(','), BENCH_OUT: out });
    expect(run.code, run.stderr).to.equal(0);
    results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    markdown = readFileSync(path.join(out, 'results.md'), 'utf8');
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('records the sizes it ran with and the engines', () => {
    expect(results.engines).to.deep.equal(engines);
    expect(results.sizes).to.include({ runs: 1, largeCount: 30, jobCount: 4, soakSeconds: 1 });
  });

  for (const engine of engines) {
    it(`reports every figure once on ${engine}`, () => {
      const names = results.figures.filter((f) => f.engine === engine).map((f) => f.figure);
      const expected = engine === 'postgres' ? [...EXPECTED_FIGURES, ...POSTGRES_FIGURES] : EXPECTED_FIGURES;
      expect(names).to.have.length(expected.length);
      for (const pattern of expected) expect(names.filter((n) => pattern.test(n)), String(pattern)).to.have.length(1);
    });
  }

  it('reports the Kubernetes launch on the real apiserver once, p50 and p99', () => {
    const names = results.figures.filter((f) => f.engine === 'kubernetes-1.20').map((f) => f.figure);
    expect(names).to.have.length(2);
    for (const p of [50, 99]) expect(names.filter((n) => n.startsWith('job launch with 3 secrets, Kubernetes backend') && n.endsWith(`, p${p}`))).to.have.length(1);
  });

  it('gives each figure a positive value and baseline, their ratio, and a verdict matching its target', () => {
    for (const f of results.figures) {
      const what = `${f.figure} (${f.engine})`;
      // CPU time comes in 10-ms clock ticks: a handful of calls may show none.
      const cpu = f.figure.startsWith('server CPU per ');
      expect(f.value, what).to.be.a('number').at.least(cpu ? 0 : Number.MIN_VALUE);
      expect(f.baseline, what).to.be.a('number').at.least(cpu ? 0 : Number.MIN_VALUE);
      if (!cpu) expect(Number.isFinite(f.ratio) && f.ratio > 0, what).to.equal(true);
      if (f.rounds === 1 && f.baseline > 0) expect(f.ratio, what).to.be.closeTo(f.value / f.baseline, 1e-9);
      if (f.target.op === 'reported') expect(f.pass, what).to.equal(null);
      else {
        const judged = f.target.of === 'value' ? f.value : f.ratio;
        expect(f.pass, what).to.equal(f.target.op === '>=' ? judged >= f.target.bound : judged <= f.target.bound);
      }
    }
  });

  it('writes the same figures as a Markdown table', () => {
    const lines = markdown.split('\n').filter((l) => l.startsWith('|'));
    expect(lines[0]).to.equal('| figure | engine | value | same-run baseline | ratio | target | result |');
    expect(lines.slice(2)).to.have.length(results.figures.length);
    results.figures.forEach((f, i) => {
      const cells = lines[i + 2].split(' | ');
      expect(cells[0]).to.equal(`| ${f.figure}`);
      expect(cells[1]).to.equal(f.engine);
      expect(cells[4]).to.equal(f.ratio.toFixed(3));
    });
  });
});
