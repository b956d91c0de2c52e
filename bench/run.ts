// npm run bench: each figure next to a baseline measured in the same run, as a ratio, median of BENCH_RUNS rounds.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../services/runtime/repo-files.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { startTestSystem } from '../test/support/system.js';
import { benchConfig, type BenchConfig } from './config.js';
import { startEcho } from './echo-baseline.js';
import { benchKubernetesLaunch } from './kubernetes.js';
import { atLeast, judge, writeResults, type Figure } from './report.js';
import { baselineKeys, rewrapBaseline, rewrapThroughput, seedForRewrap } from './rewrap.js';
import type { MasterKeyProviderSettings } from '../services/key-management/providers/provider-settings.js';
import { createSoftHsmToken } from '../test/support/softhsm.js';
import { startBenchServer } from './server.js';
import { benchSystem } from './system.js';

type Engine = 'sqlite' | 'postgres';

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/**
 * Rewrap of cfg.rewrapCount secrets against the raw unwrap+wrap+batched-update loop with the
 * same master keys (both in this process): on the file keyring, and on a SoftHSM2 token.
 */
async function benchRewrap(engine: Engine, cfg: BenchConfig, databaseUrl: string | undefined, provider: 'file' | 'pkcs11'): Promise<Figure> {
  const token = provider === 'pkcs11' ? createSoftHsmToken('vessl-bench') : undefined;
  const masterKeys: MasterKeyProviderSettings | undefined = token && { kind: 'pkcs11', modulePath: token.modulePath, tokenLabel: token.label, pin: token.pin };
  const sys = await startTestSystem({ databaseUrl, masterKeys });
  try {
    log(`${engine}: seeding ${cfg.rewrapCount} secrets for the rewrap (${provider} master keys)`);
    await seedForRewrap(sys, cfg.rewrapCount);
    const keys = await baselineKeys(sys, masterKeys);
    let baseline: number;
    try {
      baseline = await rewrapBaseline(sys, keys);
    } finally {
      await keys.close();
    }
    const real = await rewrapThroughput(sys);
    const ratio = real.rate / baseline;
    return {
      figure: `rewrap of ${real.keys} secrets${provider === 'pkcs11' ? ', master keys in SoftHSM2 over PKCS#11' : ''}`,
      engine,
      value: real.rate,
      unit: 'keys/s',
      baseline,
      baselineUnit: 'keys/s in-process unwrap+wrap+batched update',
      ratio,
      target: atLeast(0.8),
      pass: judge(ratio, atLeast(0.8)),
      rounds: 1,
      notes: 'one round: a rewrap changes what the next one would do',
    };
  } finally {
    await sys.stop();
    token?.remove();
  }
}

/** A fresh database for each part: the SQLite file lives in the server's data dir; PostgreSQL gets a new database. */
async function withDatabase<T>(engine: Engine, fn: (url: string | undefined) => Promise<T>): Promise<T> {
  const db = engine === 'postgres' ? await createTestDatabase() : undefined;
  try {
    return await fn(db?.url);
  } finally {
    await db?.drop();
  }
}

async function main(): Promise<void> {
  const cfg = benchConfig();
  const root = packageRoot();
  if (!existsSync(path.join(root, 'dist', 'services', 'server', 'vessl-secrets.js'))) throw new Error('dist/ is missing: run `make bench` (it builds first)');
  const started = new Date();
  const echo = await startEcho();
  const figures: Figure[] = [];
  try {
    for (const engine of cfg.engines) {
      figures.push(
        ...(await withDatabase(engine, async (url) => {
          const server = await startBenchServer(url);
          try {
            return await benchSystem(engine, cfg, server, echo, log);
          } finally {
            await server.stop();
          }
        })),
      );
      for (const provider of ['file', 'pkcs11'] as const) figures.push(await withDatabase(engine, (url) => benchRewrap(engine, cfg, url, provider)));
    }
    figures.push(...(await benchKubernetesLaunch(cfg, log)));
  } finally {
    await echo.close();
  }
  const { outDir, engines: _engines, ...sizes } = cfg;
  const table = writeResults(path.resolve(root, outDir), { started: started.toISOString(), finished: new Date().toISOString(), node: process.version, engines: cfg.engines, sizes }, figures);
  process.stdout.write(table);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
