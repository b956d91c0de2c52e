import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { JobServiceService } from '../services/gen/vessl/jobs/v1/jobs.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken, type Role } from '../services/runtime/auth.js';
import { createServiceClient, type ServiceClient } from '../services/runtime/grpc-client.js';
import { sealBox } from '../services/runtime/sealed-box.js';
import { preparedRows } from '../services/runtime/db.js';
import { freePort, startServerProcess, type ServerProcess } from '../test/support/processes.js';
import { processCpuMs } from './measure.js';

/** The clients of one org, with its public key at hand for sealing. */
export interface OrgClients {
  org: string;
  secrets: ServiceClient<typeof SecretServiceService>;
  /** The same SecretService client (same token) for another endpoint: the echo process's stored answers. */
  secretsAt(endpoint: string): ServiceClient<typeof SecretServiceService>;
  jobs: ServiceClient<typeof JobServiceService>;
  seal(value: string): Promise<{ sealedBox: Buffer; keyId: string }>;
}

/** `vessl-secrets up` as its own process (the way it runs), with clients in this process. */
export interface BenchServer {
  process: ServerProcess;
  dataDir: string;
  /** Resident set size of the server process, in MiB (from /proc). */
  rssMiB(): number;
  /** V8 heap in use in the server process, in MiB (from its Prometheus endpoint). */
  heapUsedMiB(): Promise<number>;
  /** CPU time the server process has used so far, in ms (user + system, from /proc): far steadier than wall time on a shared machine. */
  cpuMs(): number;
  org(org: string): Promise<OrgClients>;
  /**
   * After a bulk load, what PostgreSQL's autovacuum does by itself in production: gather
   * planner statistics. This machine's PostgreSQL runs with autovacuum off, and without
   * statistics a fresh 100,000-row table looks empty to the planner (see bench/README.md).
   */
  analyze(): Promise<void>;
  /**
   * PostgreSQL only: one round trip from this process, the read every listing asks first (the
   * org's audit head, a prepared statement), on a connection of its own.
   */
  databaseRoundTrip?(org: string): Promise<void>;
  stop(): Promise<void>;
}

const TOKEN_TTL_SECONDS = 6 * 3600;

export async function startBenchServer(databaseUrl: string | undefined): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-bench-'));
  // warn: per-call info lines would only pile up in this process's copy of the child's stdout.
  const metricsPort = await freePort();
  const proc = await startServerProcess(
    { VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: databaseUrl ?? '', VESSL_LOG_LEVEL: 'warn', VESSL_METRICS_LISTEN: `127.0.0.1:${metricsPort}` },
    60_000,
  );
  const issuer = await loadIssuerKeys(dataDir, false);
  const closers: { close(): void }[] = [];
  const token = (role: Role, org: string) =>
    mintToken(issuer.privateKey, { role, org, subject: `bench-${role}`, ttlSeconds: TOKEN_TTL_SECONDS, settings: EMBEDDED_TOKEN_SETTINGS });
  const client = <D extends Parameters<typeof createServiceClient>[0]>(service: D, t: string, endpoint = proc.endpoint) => {
    const c = createServiceClient(service, endpoint, { token: async () => t, defaultTimeoutMs: 300_000 });
    closers.push(c);
    return c;
  };
  // As the server reads it: a pooled connection and a named prepared statement.
  const roundTrips = databaseUrl ? knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 1, max: 1 } }) : undefined;
  return {
    process: proc,
    dataDir,
    rssMiB() {
      const status = readFileSync(`/proc/${proc.child.pid}/status`, 'utf8');
      const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
      return kib / 1024;
    },
    async heapUsedMiB() {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const bytes = Number(/^vessl_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]);
      if (!Number.isFinite(bytes)) throw new Error('the server reports no vessl_nodejs_heap_size_used_bytes');
      return bytes / 1048576;
    },
    cpuMs: () => processCpuMs(proc.child.pid!),
    async org(org) {
      const admin = await token('admin', org);
      const key = await client(KeyManagementServiceService, admin).getOrgPublicKey({ org });
      return {
        org,
        secrets: client(SecretServiceService, admin),
        secretsAt: (endpoint) => client(SecretServiceService, admin, endpoint),
        jobs: client(JobServiceService, admin),
        seal: async (value) => ({ sealedBox: Buffer.from(await sealBox(Buffer.from(value), key.publicKey)), keyId: key.keyId }),
      };
    },
    async analyze() {
      if (!databaseUrl) return;
      const db = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
      try {
        await db.raw('ANALYZE');
      } finally {
        await db.destroy();
      }
    },
    databaseRoundTrip: roundTrips
      ? async (org) => {
          await preparedRows(roundTrips, 'bench_audit_head', 'select seq from secret_audit_heads where org = ?', [org]);
        }
      : undefined,
    async stop() {
      await roundTrips?.destroy();
      for (const c of closers) c.close();
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
