import { mkdtempSync, rmSync, createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import sodium from 'libsodium-wrappers';
import { decodeServiceError } from '../../services/runtime/errors.js';
import knexFactory, { type Knex } from 'knex';
import { KeyManagementServiceService } from '../../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../../services/gen/vessl/secrets/v1/secrets.js';
import { JobServiceService } from '../../services/gen/vessl/jobs/v1/jobs.js';
import { WorkspaceServiceService } from '../../services/gen/vessl/jobs/v1/workspaces.js';
import { loadIssuerKeys, mintToken, type Role, EMBEDDED_TOKEN_SETTINGS } from '../../services/runtime/auth.js';
import { parseCommonConfig, type CommonConfig } from '../../services/runtime/config.js';
import { createServiceClient, type ServiceClient } from '../../services/runtime/grpc-client.js';
import type { InProcessChannel } from '../../services/runtime/in-process-channel.js';
import { createLogger } from '../../services/runtime/logger.js';
import { sealBox } from '../../services/runtime/sealed-box.js';
import { keyringFileOf } from '../../services/key-management/app.js';
import type { MasterKeyProviderSettings } from '../../services/key-management/providers/provider-settings.js';
import { startAllInOne, type AllInOne } from '../../services/server/all-in-one.js';
import type { JobBackend } from '../../services/job-launcher/backend.js';
import type { SandboxSettings } from '../../services/job-launcher/sandbox/job-sandbox.js';
import type { WorkspaceBackend } from '../../services/job-launcher/workspaces/workspace-backend.js';
import { removeWorkspaceRoots } from './workspace-roots.js';

export type SecretClient = ServiceClient<typeof SecretServiceService>;
export type KmsClient = ServiceClient<typeof KeyManagementServiceService>;
export type JobClient = ServiceClient<typeof JobServiceService>;
export type WorkspaceClient = ServiceClient<typeof WorkspaceServiceService>;

/** A real all-in-one server in this process, on port 0, with its own data dir and log file. */
export interface TestSystem {
  endpoint: string;
  dataDir: string;
  logFile: string;
  config: CommonConfig;
  /** http://127.0.0.1:PORT/metrics when started with `metrics: true`. */
  metricsUrl?: string;
  token(role: Role, opts?: { org?: string; subject?: string; ttlSeconds?: number }): Promise<string>;
  secrets(token: string | (() => Promise<string>)): SecretClient;
  kms(token: string | (() => Promise<string>)): KmsClient;
  jobs(token: string | (() => Promise<string>)): JobClient;
  workspaces(token: string | (() => Promise<string>)): WorkspaceClient;
  /**
   * A client whose unary calls go the way the server's services call each other: through its
   * in-process channel (services/runtime/in-process-channel.ts), not the network.
   */
  inProcess<D extends ServiceDefinition>(definition: D, token: string | (() => Promise<string>)): ServiceClient<D>;
  /** Seals a value for the org the way a client must: crypto_box_seal under the org key. */
  seal(value: string | Uint8Array, org?: string): Promise<{ sealedBox: Buffer; keyId: string }>;
  /** A read connection to a service's database, for assertions on what was written. */
  db(service: 'secret-store' | 'key-management' | 'job-launcher'): Knex;
  /** Stops the server (draining calls, ending local jobs) and starts it again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestSystem(
  opts: {
    databaseUrl?: string;
    masterKeys?: MasterKeyProviderSettings;
    org?: string;
    backend?: JobBackend;
    workspaceBackend?: WorkspaceBackend;
    workspaceRefreshMs?: number;
    metrics?: boolean;
    sandbox?: Partial<SandboxSettings>;
    logStreamsPerPrincipal?: number;
  } = {},
): Promise<TestSystem> {
  await sodium.ready;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-test-'));
  const logFile = path.join(dataDir, 'server.log');
  const logStream: WriteStream = createWriteStream(logFile);
  const config = parseCommonConfig({ 'data-dir': dataDir, 'database-url': opts.databaseUrl }, {});
  const log = createLogger('test-server', logStream, 'debug');
  const start = (listen: string) =>
    startAllInOne(config, {
      listen,
      masterKeys: opts.masterKeys ?? { kind: 'file', keyringFile: keyringFileOf(config, {}) },
      jobs: { backend: 'local', namespaceTemplate: 'vessl-{org}', sandbox: opts.sandbox, logStreamsPerPrincipal: opts.logStreamsPerPrincipal },
      backend: opts.backend,
      workspaceBackend: opts.workspaceBackend,
      workspaceRefreshMs: opts.workspaceRefreshMs,
      log,
      metricsListen: opts.metrics ? '127.0.0.1:0' : undefined,
    });
  let running: AllInOne = await start('127.0.0.1:0');
  const issuer = await loadIssuerKeys(dataDir, false);
  const defaultOrg = opts.org ?? 'acme';
  const clients: { close(): void }[] = [];
  const dbs = new Map<string, Knex>();
  const asSource = (t: string | (() => Promise<string>)) => (typeof t === 'string' ? async () => t : t);
  const system: TestSystem = {
    endpoint: running.endpoint,
    metricsUrl: running.metricsUrl,
    dataDir,
    logFile,
    config,
    token: (role, o = {}) =>
      mintToken(issuer.privateKey, {
        role,
        org: o.org ?? (role === 'service' ? '' : defaultOrg),
        subject: o.subject ?? (role === 'service' ? 'svc:job-launcher' : `test-${role}`),
        ttlSeconds: o.ttlSeconds ?? 600,
        settings: EMBEDDED_TOKEN_SETTINGS,
      }),
    secrets(token) {
      const c = createServiceClient(SecretServiceService, running.endpoint, { token: asSource(token) });
      clients.push(c);
      return c;
    },
    kms(token) {
      const c = createServiceClient(KeyManagementServiceService, running.endpoint, { token: asSource(token) });
      clients.push(c);
      return c;
    },
    jobs(token) {
      const c = createServiceClient(JobServiceService, running.endpoint, { token: asSource(token) });
      clients.push(c);
      return c;
    },
    workspaces(token) {
      const c = createServiceClient(WorkspaceServiceService, running.endpoint, { token: asSource(token) });
      clients.push(c);
      return c;
    },
    inProcess(definition, token) {
      // Through the channel of whichever server runs now (restart() starts a new one).
      const channel: Pick<InProcessChannel, 'serves' | 'unary'> = {
        serves: (p) => running.inProcess.serves(p),
        unary: (...args) => running.inProcess.unary(...args),
      };
      const c = createServiceClient(definition, running.endpoint, { token: asSource(token), inProcess: channel });
      clients.push(c);
      return c;
    },
    async seal(value, org = defaultOrg) {
      const kms = system.kms(await system.token('admin', { org }));
      const key = await kms.getOrgPublicKey({ org });
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      return { sealedBox: Buffer.from(await sealBox(bytes, key.publicKey)), keyId: key.keyId };
    },
    db(service) {
      const open = dbs.get(service);
      if (open) return open;
      const knex = opts.databaseUrl
        ? knexFactory({ client: 'pg', connection: opts.databaseUrl, pool: { min: 0, max: 2 } })
        : knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dataDir, `${service}.sqlite`) }, useNullAsDefault: true });
      dbs.set(service, knex);
      return knex;
    },
    async restart() {
      await running.stop();
      running = await start(running.endpoint);
    },
    async stop() {
      for (const c of clients) c.close();
      await Promise.all([...dbs.values()].map((d) => d.destroy()));
      await running.stop();
      await new Promise<void>((resolve) => logStream.end(resolve));
      rmSync(dataDir, { recursive: true, force: true });
      removeWorkspaceRoots(dataDir);
    },
  };
  return system;
}

export interface CallFailure {
  code: string;
  message: string;
  fields: string[];
}

/** The code name, message and violated fields of a gRPC error. */
export function describeFailure(err: unknown): CallFailure {
  const d = decodeServiceError(err as ServiceError);
  return { code: status[d.code], message: d.message, fields: d.fieldViolations.map((v) => v.field) };
}

/** Awaits a call that must fail, for table assertions. */
export async function failure(call: Promise<unknown>): Promise<CallFailure> {
  try {
    await call;
  } catch (err) {
    return describeFailure(err);
  }
  throw new Error('expected the call to fail, but it succeeded');
}
