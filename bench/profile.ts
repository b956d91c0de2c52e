// CPU profile of the server under test during one workload, summarised (bench/README.md, Profiling):
//   node --import tsx bench/profile.ts launch|create|list [sqlite|postgres] [calls]
// The server runs as in `npm run bench` (its own process, at log level warn) with
// bench/cpu-profile-preload.mjs; only the workload itself is sampled (not the seeding).
// Prints CPU per call (from /proc), self time by where the code lives, and the heaviest
// functions by self and by total time; the .cpuprofile stays in the printed directory.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../test/support/postgres.js';
import { forEachLimited } from './measure.js';
import { startBenchServer } from './server.js';
import { jobSpec, SecretCounter, seedSecrets } from './system.js';

/** Calls made before the profiler starts. */
const WARM_UP = 20;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a part of Node, one of our rooms, or V8 itself. */
function placeOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const ours = /\/(services|dist\/services)\/([^/]+(?:\/[^/]+)?)/.exec(url);
  return ours ? ours[2].replace(/\.js$/, '') : url;
}

function summarise(profile: CpuProfile, calls: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, ms]) => a + ms, 0);
  const busy = total - idle;
  const places = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const totalFn = new Map<string, number>();
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${placeOf(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    const place = placeOf(n.callFrame.url, n.callFrame.functionName);
    places.set(place, (places.get(place) ?? 0) + ms);
    selfFn.set(label(n), (selfFn.get(label(n)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      totalFn.set(l, (totalFn.get(l) ?? 0) + ms);
    }
  }
  const per = (ms: number) => `${(ms / calls).toFixed(3)} ms/call  ${((100 * ms) / busy).toFixed(1)}%`;
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, ms]) => `  ${per(ms).padEnd(28)} ${name}`)
      .join('\n');
  return [
    `sampled ${(total / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s = ${(busy / calls).toFixed(3)} ms per call (main thread)`,
    'self time by place:',
    top(places, 25),
    'functions by self time:',
    top(selfFn, 40),
    'functions by total time:',
    top(totalFn, 60),
  ].join('\n');
}

async function main(): Promise<void> {
  const [scenario = 'launch', engine = 'sqlite', callsArg] = process.argv.slice(2);
  if (scenario === 'summarise') {
    // summarise FILE CALLS: a profile written before, read again.
    const [, file, callsText] = process.argv.slice(2);
    process.stdout.write(`${summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(callsText ?? 1))}\n`);
    return;
  }
  // PROFILE=0: the same workload without the profiler, for CPU per call as the bench sees it.
  const sampling = process.env.PROFILE !== '0';
  if (!['launch', 'create', 'list'].includes(scenario)) throw new Error(`unknown scenario "${scenario}" (launch, create, list)`);
  const calls = Number(callsArg ?? (scenario === 'launch' ? 300 : 3000));
  const dir = mkdtempSync(path.join(tmpdir(), 'vessl-profile-'));
  process.env.VESSL_CPU_PROFILE_DIR = dir;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${path.resolve('bench/cpu-profile-preload.mjs')}`;
  const db = engine === 'postgres' ? await createTestDatabase() : undefined;
  const server = await startBenchServer(db?.url);
  try {
    const c = await server.org('acme');
    const names = Array.from({ length: Number(process.env.SECRETS ?? 20) }, (_, i) => `JOB_SECRET_${i}`);
    if (names.length > 0) await c.secrets.batchCreateSecrets({ org: c.org, requests: await Promise.all(names.map(async (name) => ({ secret: { name, key: name }, value: await c.seal(`job-value-${name}`) }))) });
    await seedSecrets(c, new SecretCounter(), 1000);
    const sealed = await Promise.all(Array.from({ length: calls + WARM_UP }, (_, i) => c.seal(`value-${i}-0123456789abcdef`)));
    // Call i of the scenario (the first WARM_UP calls warm the server up and are not sampled).
    const call: (i: number) => Promise<unknown> = {
      launch: (i: number) => c.jobs.createJob(jobSpec(c, names, i)),
      create: (i: number) => c.secrets.createSecret({ org: c.org, secret: { name: `p-${i}`, key: 'BENCH' }, value: sealed[i] }),
      list: () => c.secrets.listSecrets({ org: c.org, pageSize: 100 }),
    }[scenario as 'launch' | 'create' | 'list'];
    await forEachLimited(WARM_UP, 1, call);
    // The server's stderr once it says what `pattern` matches (its first group, if any).
    const written = (pattern: RegExp) =>
      new Promise<string>((resolve) => {
        const onData = () => {
          const m = pattern.exec(server.process.stderr());
          if (!m) return;
          server.process.child.stderr!.off('data', onData);
          resolve(m[1] ?? m[0]);
        };
        server.process.child.stderr!.on('data', onData);
      });
    if (sampling) {
      const started = written(/cpu profile started/);
      server.process.child.kill('SIGUSR2');
      await started;
    }
    const cpu0 = server.cpuMs();
    const t0 = performance.now();
    await forEachLimited(calls, scenario === 'create' ? 64 : 1, (i) => call(WARM_UP + i));
    const wall = performance.now() - t0;
    const cpu = server.cpuMs() - cpu0;
    process.stdout.write(`${scenario} on ${engine}: ${calls} calls in ${wall.toFixed(0)} ms; server CPU ${(cpu / calls).toFixed(3)} ms per call (all threads, /proc)\n`);
    if (sampling) {
      const file = written(/cpu profile written (\S+)/);
      server.process.child.kill('SIGUSR2');
      const profilePath = await file;
      process.stdout.write(`profile: ${profilePath}\n${summarise(JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile, calls)}\n`);
    }
  } finally {
    await server.stop();
    await db?.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`profile failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
