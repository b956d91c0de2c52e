// npm run bench: each figure next to a baseline measured in the same run, as a ratio, median of RUNS.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sodium from 'libsodium-wrappers';
import { createTestDatabase } from '../test/support/postgres.js';
import { startTestSystem } from '../test/support/system.js';
import { startEcho } from './echo-baseline.js';
import { rewrapBaseline, rewrapThroughput, seedForRewrap } from './rewrap.js';
import { latencies, median, percentile, throughput } from './measure.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const IN_FLIGHT = 64;

interface Figure {
  figure: string;
  engine: string;
  value: number;
  unit: string;
  baseline: number;
  baselineUnit: string;
  ratio: number;
  target: string;
}

async function benchEngine(engine: 'sqlite' | 'postgres'): Promise<Figure[]> {
  const db = engine === 'postgres' ? await createTestDatabase() : undefined;
  const sys = await startTestSystem({ databaseUrl: db?.url });
  const echo = await startEcho();
  try {
    const admin = await sys.token('admin');
    const secrets = sys.secrets(admin);
    const key = await sys.kms(admin).getOrgPublicKey({ org: 'acme' });
    const payload = Buffer.alloc(200, 1);
    const figures: Figure[] = [];
    let run = 0;

    // create throughput, 64 in flight, each value sealed by the client like vesslctl does
    const echoRates: number[] = [];
    const createRates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      echoRates.push(await throughput(CALLS, IN_FLIGHT, () => echo.call(payload)));
      const prefix = `bench-${run++}-`;
      createRates.push(
        await throughput(CALLS, IN_FLIGHT, (i) =>
          secrets.createSecret({
            org: 'acme',
            secret: { name: `${prefix}${i}`, key: 'BENCH' },
            value: { sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from(`value-${i}-0123456789abcdef`), key.publicKey)), keyId: key.keyId },
          }),
        ),
      );
    }
    figures.push({
      figure: 'create-secret throughput, 64 in flight, client-sealed values',
      engine,
      value: median(createRates),
      unit: 'calls/s',
      baseline: median(echoRates),
      baselineUnit: 'echo calls/s (64 in flight)',
      ratio: median(createRates) / median(echoRates),
      target: '>= 0.40',
    });

    // list one page of 100, p50 and p99, against echo latency
    const echoLat = await latencies(500, () => echo.call(payload));
    const listLat = await latencies(500, () => secrets.listSecrets({ org: 'acme', pageSize: 100 }));
    for (const p of [50, 99]) {
      figures.push({
        figure: `list one page of 100 among ${RUNS * CALLS} secrets, p${p}`,
        engine,
        value: percentile(listLat, p),
        unit: 'ms',
        baseline: percentile(echoLat, p),
        baselineUnit: `echo latency p${p} ms`,
        ratio: percentile(listLat, p) / percentile(echoLat, p),
        target: p === 50 ? '<= 3x' : 'reported',
      });
    }
    return figures;
  } finally {
    await echo.close();
    await sys.stop();
    await db?.drop();
  }
}

const REWRAP_COUNT = Number(process.env.BENCH_REWRAP_COUNT ?? 100_000);

/** Rewrap of REWRAP_COUNT secrets against the raw unwrap+wrap+batched-update loop. */
async function benchRewrap(engine: 'sqlite' | 'postgres'): Promise<Figure> {
  const db = engine === 'postgres' ? await createTestDatabase() : undefined;
  const sys = await startTestSystem({ databaseUrl: db?.url });
  try {
    await seedForRewrap(sys, REWRAP_COUNT);
    const baseline = await rewrapBaseline(sys);
    const real = await rewrapThroughput(sys);
    return {
      figure: `rewrap of ${real.keys} secrets`,
      engine,
      value: real.rate,
      unit: 'keys/s',
      baseline,
      baselineUnit: 'keys/s in-process unwrap+wrap+batched update',
      ratio: real.rate / baseline,
      target: '>= 0.25',
    };
  } finally {
    await sys.stop();
    await db?.drop();
  }
}

async function main(): Promise<void> {
  await sodium.ready;
  const figures: Figure[] = [];
  for (const engine of ['sqlite', 'postgres'] as const) figures.push(...(await benchEngine(engine)), await benchRewrap(engine));
  const dir = path.join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ when: new Date().toISOString(), runs: RUNS, figures }, null, 2));
  const rows = figures.map(
    (f) => `| ${f.figure} | ${f.engine} | ${f.value.toFixed(2)} ${f.unit} | ${f.baseline.toFixed(2)} ${f.baselineUnit} | ${f.ratio.toFixed(3)} | ${f.target} |`,
  );
  const table = ['| figure | engine | value | same-run baseline | ratio | target |', '|---|---|---|---|---|---|', ...rows].join('\n');
  writeFileSync(path.join(dir, 'results.md'), table + '\n');
  process.stdout.write(table + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
