import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_BIN } from '../test/support/processes.js';
import type { BenchConfig } from './config.js';
import type { EchoServer } from './echo-baseline.js';
import { forEachLimited, latencies, median, percentile, throughput } from './measure.js';
import { atLeast, atMost, judge, REPORTED, valueAtMost, type Figure, type Target } from './report.js';
import type { BenchServer, OrgClients } from './server.js';

const IN_FLIGHT = 64;
const SEED_BATCH = 500;
const SEED_WORKERS = 3;
const JOB_WORKERS = 8;
const ECHO_PAYLOAD = Buffer.alloc(200, 1);
/** The soak may end this much above where it stood after warming up and still count as flat. */
const SOAK_GROWTH_LIMIT = 1.1;

type Engine = Figure['engine'];

/** One figure from paired rounds: value and baseline are medians, ratio the median of per-round ratios. */
function figure(
  engine: Engine,
  name: string,
  rounds: { value: number; baseline: number }[],
  units: { unit: string; baselineUnit: string },
  target: Target,
  notes?: string,
): Figure {
  // A baseline of no CPU time at all (a very short smoke run, in 10-ms clock ticks) has no ratio.
  const measured = rounds.filter((r) => r.baseline > 0);
  const ratio = measured.length > 0 ? median(measured.map((r) => r.value / r.baseline)) : 0;
  return {
    figure: name,
    engine,
    value: median(rounds.map((r) => r.value)),
    unit: units.unit,
    baseline: median(rounds.map((r) => r.baseline)),
    baselineUnit: units.baselineUnit,
    ratio,
    target,
    pass: judge(ratio, target, median(rounds.map((r) => r.value))),
    rounds: rounds.length,
    notes,
  };
}

/** Counts the secrets created through `seedSecrets`, so sizes are known without listing. */
export class SecretCounter {
  count = 0;
}

/** Creates secrets `<prefix><n>` through BatchCreateSecrets until the org holds `target` of them. */
export async function seedSecrets(c: OrgClients, counter: SecretCounter, target: number, prefix = 'seed-'): Promise<void> {
  const starts: number[] = [];
  for (let n = counter.count; n < target; n += SEED_BATCH) starts.push(n);
  await forEachLimited(starts.length, SEED_WORKERS, async (b) => {
    const start = starts[b];
    const requests = [];
    for (let i = start; i < Math.min(target, start + SEED_BATCH); i++) {
      requests.push({ secret: { name: `${prefix}${i}`, key: 'SEED' }, value: await c.seal(`seed-value-${i}`) });
    }
    await c.secrets.batchCreateSecrets({ org: c.org, requests });
  });
  counter.count = Math.max(counter.count, target);
}

/**
 * Where create rounds send their calls: the server under test (its CPU and the org's secret
 * count followed), or, for the ceiling over create throughput, the echo process answering
 * CreateSecret at once with a stored answer, so that only the client's own sealing and calls
 * are measured: the create figure cannot go above that on this machine.
 */
interface CreateTarget {
  secrets: OrgClients['secrets'];
  /** CPU time so far of the process that answers (the server, or the echo process). */
  cpuMs(): number;
  counter?: SecretCounter;
}

/** Create throughput rounds (64 in flight, each value sealed in this process as a client does), each next to an echo round. */
async function createRounds(cfg: BenchConfig, c: OrgClients, echo: EchoServer, label: string, target: CreateTarget) {
  const rounds: { value: number; baseline: number; existing: number; serverCpuMs: number; clientCpuMs: number }[] = [];
  for (let r = 0; r < cfg.runs; r++) {
    const baseline = await throughput(cfg.createCalls, IN_FLIGHT, () => echo.call(ECHO_PAYLOAD));
    const existing = target.counter?.count ?? 0;
    const cpuBefore = target.cpuMs();
    const clientBefore = process.cpuUsage();
    const value = await throughput(cfg.createCalls, IN_FLIGHT, async (i) =>
      target.secrets.createSecret({ org: c.org, secret: { name: `${label}-${r}-${i}`, key: 'BENCH' }, value: await c.seal(`value-${i}-0123456789abcdef`) }),
    );
    const serverCpuMs = (target.cpuMs() - cpuBefore) / cfg.createCalls;
    const client = process.cpuUsage(clientBefore);
    const clientCpuMs = (client.user + client.system) / 1000 / cfg.createCalls;
    if (target.counter) target.counter.count += cfg.createCalls;
    rounds.push({ value, baseline, existing, serverCpuMs, clientCpuMs });
  }
  return rounds;
}

/** Median server CPU time per call over the rounds, for the notes. */
const cpuPerCall = (rounds: { serverCpuMs: number }[]) => median(rounds.map((r) => r.serverCpuMs)).toFixed(2);

/** Sequential latency rounds of `call` next to echo latency rounds: p50 and p99 figures. */
async function latencyFigures(
  engine: Engine,
  cfg: BenchConfig,
  server: BenchServer | undefined,
  echo: EchoServer,
  name: string,
  calls: number,
  call: (i: number) => Promise<unknown>,
  p50Target: Target,
  notes: string,
): Promise<Figure[]> {
  const rounds: { own: number[]; echo: number[]; serverCpuMs: number }[] = [];
  let offset = 0;
  for (let r = 0; r < cfg.runs; r++) {
    const echoLat = await latencies(cfg.latencyCalls, () => echo.call(ECHO_PAYLOAD));
    const cpuBefore = server?.cpuMs() ?? 0;
    const own = await latencies(calls, (i) => call(offset + i));
    rounds.push({ own, echo: echoLat, serverCpuMs: ((server?.cpuMs() ?? 0) - cpuBefore) / calls });
    offset += calls;
  }
  const fullNotes = server ? `${notes}; server CPU ${cpuPerCall(rounds)} ms per call` : notes;
  return [50, 99].map((p) =>
    figure(
      engine,
      `${name}, p${p}`,
      rounds.map((r) => ({ value: percentile(r.own, p), baseline: percentile(r.echo, p) })),
      { unit: 'ms', baselineUnit: `ms echo p${p}` },
      p === 50 ? p50Target : REPORTED,
      fullNotes,
    ),
  );
}

/**
 * Job launches against their floor (issue 22), round by round: the floor (a call that starts
 * a sandboxed `/bin/sh -c true` from the small echo process), then the launches, each with
 * the CPU time its process used. Launch p50/p99 against the floor's, the server's CPU per
 * launch (against the echo process's per floor call), and the floor against echo.
 */
async function launchFigures(engine: Engine, cfg: BenchConfig, server: BenchServer, echo: EchoServer, launch: (i: number) => Promise<unknown>): Promise<Figure[]> {
  const rounds: { launch: number[]; floor: number[]; echo: number[]; launchCpu: number; floorCpu: number }[] = [];
  for (let r = 0; r < cfg.runs; r++) {
    const echoLat = await latencies(cfg.latencyCalls, () => echo.call(ECHO_PAYLOAD));
    const echoCpu = echo.cpuMs();
    const floor = await latencies(cfg.launches, () => echo.spawnCall(ECHO_PAYLOAD));
    const floorCpu = (echo.cpuMs() - echoCpu) / cfg.launches;
    const serverCpu = server.cpuMs();
    const own = await latencies(cfg.launches, (i) => launch(r * cfg.launches + i));
    rounds.push({ launch: own, floor, echo: echoLat, launchCpu: (server.cpuMs() - serverCpu) / cfg.launches, floorCpu });
  }
  const name = `job launch with ${cfg.secretsPerJob} secrets, local backend (call until the process has started)`;
  const floorName = 'floor under a launch: one call that starts a sandboxed `/bin/sh -c true` (bwrap, work dir, uid) from the small echo process';
  const notes = `${cfg.launches} launches per round; the floor has no secrets, database or audit: what a launch cannot go below on this machine`;
  return [
    ...[50, 99].map((p) =>
      figure(engine, `${name} vs its floor, p${p}`, rounds.map((r) => ({ value: percentile(r.launch, p), baseline: percentile(r.floor, p) })), { unit: 'ms', baselineUnit: `ms floor p${p}` }, p === 50 ? atMost(1.5) : REPORTED, notes),
    ),
    figure(engine, `server CPU per ${name.replace('job launch', 'launch')} (user + system, all threads, from /proc)`, rounds.map((r) => ({ value: r.launchCpu, baseline: r.floorCpu })), { unit: 'ms', baselineUnit: 'ms CPU of the echo process per floor call' }, valueAtMost(2), 'the job spawner helper, where the shell is forked, is a process of its own and not counted (nor is the floor\'s fork in the echo process)'),
    ...[50, 99].map((p) =>
      figure(engine, `${floorName}, p${p}`, rounds.map((r) => ({ value: percentile(r.floor, p), baseline: percentile(r.echo, p) })), { unit: 'ms', baselineUnit: `ms echo p${p}` }, REPORTED, notes),
    ),
  ];
}

/** Wall time in ms of a process run to completion, and its output; throws when it fails. */
function timedRun(args: string[], env: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const t = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

/** A cold start that counts: it exits 0 and prints a JSON list of secrets. */
function timedList(env: NodeJS.ProcessEnv): number {
  const { ms, stdout } = timedRun([CLI_BIN, 'secret', 'list', '-o', 'json'], env);
  if (!Array.isArray(JSON.parse(stdout))) throw new Error(`vesslctl secret list -o json printed no list: ${stdout.slice(0, 200)}`);
  return ms;
}

/** `vesslctl secret list -o json` against the running server, next to `node -e ''`. */
async function cliColdStart(engine: Engine, cfg: BenchConfig, server: BenchServer): Promise<Figure> {
  const home = mkdtempSync(path.join(tmpdir(), 'vessl-bench-cli-'));
  try {
    const env = { PATH: process.env.PATH, HOME: home, VESSLCTL_CONFIG_DIR: path.join(home, 'config') };
    const credentials = path.join(server.dataDir, 'credentials.json');
    timedRun([CLI_BIN, 'auth', 'login', '--credentials', credentials], env);
    const { org } = JSON.parse(readFileSync(credentials, 'utf8')) as { org: string };
    const c = await server.org(org);
    await seedSecrets(c, new SecretCounter(), 20, 'cli-');
    const rounds: { value: number; baseline: number }[] = [];
    for (let r = 0; r < cfg.runs; r++) {
      const node: number[] = [];
      const cli: number[] = [];
      for (let i = 0; i < cfg.cliStarts; i++) {
        node.push(timedRun(['-e', ''], env).ms);
        cli.push(timedList(env));
      }
      rounds.push({ value: median(cli), baseline: median(node) });
    }
    return figure(engine, '`vesslctl secret list -o json` cold start, wall time', rounds, { unit: 'ms', baselineUnit: "ms `node -e ''`" }, atMost(3), `org of 20 secrets; median of ${cfg.cliStarts} starts per round`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** A job spec naming `names`: `true` exits at once, so a launch is the call until the process has started. */
export const jobSpec = (c: OrgClients, names: string[], i: number) => ({
  org: c.org,
  job: { name: `bench-${i}`, image: 'bench', command: 'true', secrets: names.map((secretName) => ({ secretName })) },
});

/**
 * A mixed load for `seconds` (reads, pages, creates and deletes that keep the table size
 * steady, value rotations, launches), sampling the server's RSS throughout.
 */
async function soak(cfg: BenchConfig, server: BenchServer, c: OrgClients, jobSecrets: string[]): Promise<{ rss: number[]; heap: number[] }> {
  const rss: number[] = [];
  const heap: number[] = [];
  const until = Date.now() + cfg.soakSeconds * 1000;
  const sampleEvery = Math.max(250, (cfg.soakSeconds * 1000) / 120);
  const sampler = (async () => {
    while (Date.now() < until) {
      rss.push(server.rssMiB());
      heap.push(await server.heapUsedMiB());
      await sleep(sampleEvery);
    }
  })();
  let op = 0;
  const worker = async (w: number) => {
    const made: string[] = [];
    while (Date.now() < until) {
      const n = op++;
      const kind = n % 20;
      const existing = `seed-${(n * 7919) % cfg.smallCount}`;
      if (kind < 8) await c.secrets.getSecret({ org: c.org, name: existing });
      else if (kind < 12) await c.secrets.listSecrets({ org: c.org, pageSize: 100 });
      else if (kind < 15) {
        const name = `soak-${w}-${n}`;
        await c.secrets.createSecret({ org: c.org, secret: { name, key: 'SOAK' }, value: await c.seal(`soak-${n}`) });
        made.push(name);
      } else if (kind < 18) {
        const name = made.shift();
        if (name) await c.secrets.deleteSecret({ org: c.org, name });
      } else if (kind < 19) {
        await c.secrets.updateSecret({ org: c.org, secret: { name: jobSecrets[n % jobSecrets.length] }, value: await c.seal(`rotated-${n}`), updateMask: ['value'] });
      } else await c.jobs.createJob(jobSpec(c, jobSecrets.slice(0, 2), n));
    }
  };
  await Promise.all([...Array.from({ length: JOB_WORKERS }, (_, w) => worker(w)), sampler]);
  return { rss, heap };
}

/** Every figure that needs the server process, on one engine. */
export async function benchSystem(engine: Engine, cfg: BenchConfig, server: BenchServer, echo: EchoServer, log: (line: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  await sleep(1000);
  const idleRss = server.rssMiB();
  const c = await server.org('acme');
  const counter = new SecretCounter();

  log(`${engine}: seeding ${cfg.smallCount} secrets`);
  await seedSecrets(c, counter, cfg.smallCount);
  log(`${engine}: create throughput with ${counter.count} existing`);
  const small = await createRounds(cfg, c, echo, 'small', { secrets: c.secrets, cpuMs: () => server.cpuMs(), counter });
  const smallNote = `${small[0].existing} to ${small[small.length - 1].existing} existing at the start of a round; ${cfg.createCalls} calls per round; server CPU ${cpuPerCall(small)} ms per create`;
  figures.push(
    figure(engine, 'create-secret throughput, 64 in flight, values sealed by the client', small, { unit: 'calls/s', baselineUnit: 'echo calls/s, 64 in flight' }, atLeast(0.4), smallNote),
  );

  log(`${engine}: ceiling over create throughput`);
  const ceiling = await createRounds(cfg, c, echo, 'ceiling', { secrets: c.secretsAt(echo.endpoint), cpuMs: () => echo.cpuMs() });
  figures.push(
    figure(
      engine,
      'ceiling over create throughput: the same client, sealing each value, against a server that answers CreateSecret at once, 64 in flight',
      ceiling,
      { unit: 'calls/s', baselineUnit: 'echo calls/s, 64 in flight' },
      REPORTED,
      `${cfg.createCalls} calls per round; the answer is stored in the echo process: what the create figure cannot go above on this machine`,
    ),
    // Issue 22: against what this machine allows. Round r of creates is paired with round r of the ceiling.
    figure(
      engine,
      'create throughput vs its ceiling (the same client against a server that answers at once), 64 in flight',
      small.map((s, i) => ({ value: s.value, baseline: ceiling[i].value })),
      { unit: 'calls/s', baselineUnit: 'calls/s ceiling' },
      atLeast(engine === 'postgres' ? 0.7 : 0.85),
      // Client and server share the machine's cores: what each spends per create bounds the ratio.
      `${small[0].existing} to ${small[small.length - 1].existing} existing; CPU per create: client ${median(small.map((s) => s.clientCpuMs)).toFixed(3)} ms and server ${cpuPerCall(small)} ms, against the ceiling client ${median(ceiling.map((s) => s.clientCpuMs)).toFixed(3)} ms and echo ${cpuPerCall(ceiling)} ms`,
    ),
    figure(
      engine,
      'server CPU per create (user + system, all threads, from /proc), 64 in flight',
      small.map((s, i) => ({ value: s.serverCpuMs, baseline: ceiling[i].serverCpuMs })),
      { unit: 'ms', baselineUnit: 'ms CPU of the echo process per stored answer' },
      valueAtMost(0.25),
      'the baseline is what grpc-js alone costs a process per such call here',
    ),
  );

  log(`${engine}: seeding up to ${cfg.largeCount} secrets`);
  await seedSecrets(c, counter, cfg.largeCount);
  await server.analyze();
  figures.push(
    ...(await latencyFigures(engine, cfg, server, echo, `list one page of 100 among ${cfg.largeCount} secrets`, cfg.latencyCalls, () => c.secrets.listSecrets({ org: c.org, pageSize: 100 }), atMost(2), `${counter.count} live secrets in the org; first page`)),
  );
  const roundTrip = server.databaseRoundTrip;
  if (roundTrip) {
    // What a listing on PostgreSQL cannot go below besides the call itself: the one read it
    // makes, of the org's audit head (is the cached page still exact, on every replica?).
    figures.push(
      ...(await latencyFigures(engine, cfg, undefined, echo, 'one PostgreSQL round trip: the prepared read of the org\'s audit head every listing makes, from a client process', cfg.latencyCalls, () => roundTrip(c.org), REPORTED, 'a pg connection of its own; no gRPC, no server process')),
    );
  }

  log(`${engine}: create throughput with ${counter.count} existing`);
  const large = await createRounds(cfg, c, echo, 'large', { secrets: c.secrets, cpuMs: () => server.cpuMs(), counter });
  figures.push(
    figure(
      engine,
      `create throughput with ${cfg.largeCount} existing vs ${cfg.smallCount} existing`,
      large.map((l, i) => ({ value: l.value, baseline: small[i].value })),
      { unit: 'calls/s', baselineUnit: `calls/s with ${cfg.smallCount} existing` },
      atLeast(0.8),
      `${large[0].existing} to ${large[large.length - 1].existing} existing at the start of a round; server CPU ${cpuPerCall(large)} ms per create`,
    ),
  );

  log(`${engine}: job launches with ${cfg.secretsPerJob} secrets`);
  const jobSecrets = Array.from({ length: cfg.secretsPerJob }, (_, i) => `JOB_SECRET_${i}`);
  await c.secrets.batchCreateSecrets({ org: c.org, requests: await Promise.all(jobSecrets.map(async (name) => ({ secret: { name, key: name }, value: await c.seal(`job-value-${name}`) }))) });
  figures.push(...(await launchFigures(engine, cfg, server, echo, (i) => c.jobs.createJob(jobSpec(c, jobSecrets, i)))));

  const launched = cfg.runs * cfg.launches;
  log(`${engine}: launching up to ${cfg.jobCount} jobs`);
  await forEachLimited(Math.max(0, cfg.jobCount - launched), JOB_WORKERS, (i) => c.jobs.createJob(jobSpec(c, jobSecrets, launched + i)));
  await sleep(2000);
  const loadedRss = server.rssMiB();
  const memoryUnits = { unit: 'MiB RSS', baselineUnit: 'MiB RSS idle server' };
  figures.push(figure(engine, `server memory after ${cfg.largeCount} secrets and ${cfg.jobCount} jobs`, [{ value: loadedRss, baseline: idleRss }], memoryUnits, REPORTED, `${counter.count} secrets, ${Math.max(cfg.jobCount, launched)} jobs`));

  log(`${engine}: CLI cold start`);
  figures.push(await cliColdStart(engine, cfg, server));

  log(`${engine}: ${cfg.soakSeconds}-s mixed load`);
  const { rss: samples, heap } = await soak(cfg, server, c, jobSecrets);
  // Quarters of the samples (a very short soak may have fewer than four: then all of them).
  const quarters = (xs: number[]) => {
    const q = Math.floor(xs.length / 4);
    return { second: q > 0 ? xs.slice(q, 2 * q) : xs, last: q > 0 ? xs.slice(-q) : xs };
  };
  const rssQuarters = quarters(samples);
  const heapQuarters = quarters(heap);
  figures.push(
    figure(engine, `server memory after a ${cfg.soakSeconds}-s mixed load`, [{ value: server.rssMiB(), baseline: idleRss }], memoryUnits, REPORTED, `${samples.length} samples, min ${Math.min(...samples).toFixed(0)} / max ${Math.max(...samples).toFixed(0)} MiB`),
    figure(engine, 'memory growth during the mixed load (last quarter vs second quarter)', [{ value: median(rssQuarters.last), baseline: median(rssQuarters.second) }], { unit: 'MiB RSS', baselineUnit: 'MiB RSS after warm-up' }, atMost(SOAK_GROWTH_LIMIT), 'median RSS of each quarter of the samples; 10% allowed for noise'),
    // The heap's low points are what survives collections: they rise with a leak, whatever V8's heap sizing does to RSS.
    figure(engine, 'V8 heap after collections during the mixed load (last quarter vs second quarter)', [{ value: Math.min(...heapQuarters.last), baseline: Math.min(...heapQuarters.second) }], { unit: 'MiB heap used, lowest sample', baselineUnit: 'MiB after warm-up' }, REPORTED, 'lowest V8 heap-used sample of each quarter (vessl_nodejs_heap_size_used_bytes)'),
  );
  return figures;
}
