import type { InProcessChannel } from '../runtime/in-process-channel.js';
import { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../gen/vessl/secrets/v1/secrets.js';
import type { ServiceTokenSource } from '../runtime/auth.js';
import { ConfigError, databaseSettings, peerChannel, setting, type CommonConfig, type Flags } from '../runtime/config.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { createServiceClient } from '../runtime/grpc-client.js';
import { DenialAudit, recordThroughSecretStore } from '../runtime/denial-audit.js';
import { fromDownstream } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { ORG_PATTERN } from '../runtime/auth.js';
import { MAX_SECRETS_PER_LOOKUP } from '../secret-store/rules.js';
import path from 'node:path';
import type { JobBackend } from './backend.js';
import { createLocalBackend } from './backends/local.js';
import type { SandboxSettings, UidRange } from './sandbox/job-sandbox.js';
import { JobManager, type SecretsPort } from './domain.js';
import { DEFAULT_LOG_STREAMS_PER_PRINCIPAL, LogStreamLimits } from './log-stream-limits.js';
import { jobLauncherMigrations } from './migrations.js';
import { createJobStore, type JobStore } from './store.js';
import { WorkspaceManager } from './workspaces/domain.js';
import { createLocalWorkspaceBackend } from './workspaces/local-workspaces.js';
import { createWorkspaceStore } from './workspaces/store.js';
import { unavailableWorkspaceBackend, UNSANDBOXED_WORKSPACES_REFUSAL } from './workspaces/unavailable-workspaces.js';
import type { WorkspaceBackend } from './workspaces/workspace-backend.js';

export const JOB_LAUNCHER_SERVICE = 'job-launcher';
const CALL_TIMEOUT_MS = 10_000;

export interface JobLauncherSettings {
  backend: 'local' | 'kubernetes';
  /** Kubernetes namespace for an org's jobs: "{org}" is replaced by the org name. */
  namespaceTemplate: string;
  /** How the local backend sandboxes jobs (docs/isolation.md). */
  sandbox?: Partial<SandboxSettings>;
  /** Job log streams one principal may have open at once (VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL). */
  logStreamsPerPrincipal?: number;
}

/** The local backend's sandbox settings: VESSL_JOB_NETWORK, VESSL_JOB_WORK_ROOT, VESSL_JOB_UIDS, VESSL_UNSAFE_NO_JOB_SANDBOX. */
function sandboxSettings(flags: Flags): Partial<SandboxSettings> {
  const network = setting(flags, 'job-network') ?? 'shared';
  if (network !== 'shared' && network !== 'isolated') throw new ConfigError(`VESSL_JOB_NETWORK must be "shared" or "isolated", not "${network}"`);
  const unsafe = setting(flags, 'unsafe-no-job-sandbox') ?? 'false';
  if (!['true', '1', 'false', '0'].includes(unsafe)) throw new ConfigError(`VESSL_UNSAFE_NO_JOB_SANDBOX must be "true" or "false", not "${unsafe}"`);
  const settings: Partial<SandboxSettings> = { kind: unsafe === 'true' || unsafe === '1' ? 'none' : 'bubblewrap', network };
  const workRoot = setting(flags, 'job-work-root');
  if (workRoot !== undefined) settings.workRoot = path.resolve(workRoot);
  const uids = setting(flags, 'job-uids');
  if (uids !== undefined) settings.uids = parseUidRange(uids);
  return settings;
}

/** "FIRST-LAST": at least 16 uids, none of them a system or login user's, all below 2^31. */
function parseUidRange(text: string): UidRange {
  const match = /^(\d{1,10})-(\d{1,10})$/.exec(text);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 100_000 || last < first + 15 || last > 2_147_483_646) {
    throw new ConfigError(`VESSL_JOB_UIDS "${text}" must be FIRST-LAST with 100000 <= FIRST, at least 16 uids, LAST < 2147483647`);
  }
  return { first, count: last - first + 1 };
}

export function jobLauncherSettings(flags: Flags): JobLauncherSettings {
  const backend = setting(flags, 'job-backend') ?? 'local';
  if (backend !== 'local' && backend !== 'kubernetes') {
    throw new ConfigError(`VESSL_JOB_BACKEND must be "local" or "kubernetes", not "${backend}"`);
  }
  const namespaceTemplate = setting(flags, 'job-namespace') ?? 'vessl-{org}';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespaceTemplate.replace('{org}', 'org'))) {
    throw new ConfigError(`VESSL_JOB_NAMESPACE "${namespaceTemplate}" does not make a valid namespace name`);
  }
  return { backend, namespaceTemplate, sandbox: sandboxSettings(flags), logStreamsPerPrincipal: logStreamCap(flags) };
}

function logStreamCap(flags: Flags): number {
  const text = setting(flags, 'max-log-streams-per-principal');
  if (text === undefined) return DEFAULT_LOG_STREAMS_PER_PRINCIPAL;
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1) throw new ConfigError(`VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL "${text}" must be a whole number from 1 to 9999`);
  return Number(text);
}

/** An org's Kubernetes namespace, from the configured template. */
function namespaceOf(settings: JobLauncherSettings): (org: string) => string {
  return (org) => {
    if (!ORG_PATTERN.test(org)) throw new Error(`invalid org ${org}`);
    return settings.namespaceTemplate.replace('{org}', org);
  };
}

async function createBackend(settings: JobLauncherSettings, dataDir: string, log: Logger): Promise<JobBackend> {
  // Imported statically: under the tests' loader a dynamic import() gets modules of its own, whose
  // BackendError is not the domain's (instanceof fails and a backend failure reads as INTERNAL).
  if (settings.backend === 'local') {
    return createLocalBackend({ dataDir, log, sandbox: settings.sandbox });
  }
  const { createKubernetesBackend, kubeConfigFromEnvironment } = await import('./backends/kubernetes.js');
  return createKubernetesBackend({ kubeConfig: kubeConfigFromEnvironment(), namespace: namespaceOf(settings), log });
}

/** Where workspaces run: beside the jobs, on the same kind of backend (and, on Kubernetes, in the same namespace). */
async function createWorkspaceBackend(settings: JobLauncherSettings, dataDir: string, log: Logger): Promise<WorkspaceBackend> {
  if (settings.backend === 'local') {
    if (settings.sandbox?.kind === 'none') return unavailableWorkspaceBackend(UNSANDBOXED_WORKSPACES_REFUSAL);
    return createLocalWorkspaceBackend({ dataDir, network: settings.sandbox?.network, log });
  }
  const { kubeConfigFromEnvironment } = await import('./backends/kubernetes.js');
  const { createKubernetesWorkspaceBackend } = await import('./workspaces/kubernetes-workspaces.js');
  return createKubernetesWorkspaceBackend({ kubeConfig: kubeConfigFromEnvironment(), namespace: namespaceOf(settings), log });
}

export interface JobLauncherApp {
  jobs: JobManager;
  workspaces: WorkspaceManager;
  /** The cap on each principal's open log streams, for the job service. */
  logStreams: LogStreamLimits;
  store: JobStore;
  knex: Knex;
  /** Audits denied calls into a chain (the transport's error hook). */
  denials: DenialAudit;
  /** Ends every running job (the backend's close(); close() does it too). */
  stopJobs(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens job-launcher's database, its clients to secret-store and key-management (as
 * svc:job-launcher) and its backend, then reconciles attempts left unfinished by a restart.
 */
export async function openJobLauncher(
  config: CommonConfig,
  settings: JobLauncherSettings,
  deps: {
    secretStoreEndpoint: string | (() => string);
    kmsEndpoint: string | (() => string);
    token: ServiceTokenSource;
    /** The all-in-one server's own services, called in its process. */
    inProcess?: InProcessChannel;
    log: Logger;
    backend?: JobBackend;
    workspaceBackend?: WorkspaceBackend;
    /** How often running workspaces' files are checked against their secrets (default 1 s). */
    workspaceRefreshMs?: number;
  },
): Promise<JobLauncherApp> {
  const knex = await openDatabase(databaseSettings(config, JOB_LAUNCHER_SERVICE), JOB_LAUNCHER_SERVICE, jobLauncherMigrations);
  const clientOptions = { token: deps.token, ...peerChannel(config), inProcess: deps.inProcess, defaultTimeoutMs: CALL_TIMEOUT_MS };
  const secretStore = createServiceClient(SecretServiceService, deps.secretStoreEndpoint, clientOptions);
  const kms = createServiceClient(KeyManagementServiceService, deps.kmsEndpoint, clientOptions);
  const rethrow = (service: string) => (err: unknown) => Promise.reject(fromDownstream(err, service));
  const port: SecretsPort = {
    async resolveForLaunch(org, refs, plainEnvNames, reference, requestId) {
      const res = await secretStore
        .resolveSecrets(
          { org, references: refs.map((r) => ({ secretName: r.secretName, envName: r.envName, filePath: r.filePath ?? '' })), plainEnvNames, jobId: reference.id, attempt: reference.run, refresh: reference.refresh ?? false, onBehalfOf: reference.onBehalfOf },
          { requestId },
        )
        // A conflict between the job's references is the job's: name its field.
        .catch((err: unknown) => Promise.reject(fromDownstream(err, 'secret-store', (field) => field.replace(/^references/, 'job.secrets'))));
      return res;
    },
    async decrypt(org, secrets, requestId) {
      const values = secrets.map((s) => ({ secretUid: s.uid, version: s.version, ciphertext: s.ciphertext, wrappedDek: s.wrappedDek, kekVersion: s.kekVersion }));
      return (await kms.decryptForInjection({ org, values }, { requestId }).catch(rethrow('key-management'))).values;
    },
    async versions(org, uids, requestId) {
      // An org's running workspaces may hold more secrets than one lookup takes: asked for in parts.
      const versions = [];
      for (let first = 0; first < uids.length; first += MAX_SECRETS_PER_LOOKUP) {
        const part = uids.slice(first, first + MAX_SECRETS_PER_LOOKUP);
        versions.push(...(await secretStore.lookupSecretVersions({ org, uids: part }, { requestId }).catch(rethrow('secret-store'))).versions);
      }
      return versions;
    },
    async recordLaunchFailure(org, failure, requestId) {
      const workspace = failure.id.startsWith('w_');
      const details: Record<string, string> = workspace ? { workspace: failure.id, run: String(failure.run), reason: failure.reason } : { job: failure.id, attempt: String(failure.run), reason: failure.reason };
      await port.recordEvent(org, { actor: failure.actor, action: workspace ? 'workspace.start_failed' : 'job.launch_failed', details }, requestId);
    },
    async recordEvent(org, event, requestId) {
      await secretStore.recordAuditEvent({ org, ...event, requestId }, { requestId }).catch(rethrow('secret-store'));
    },
  };
  const backend = deps.backend ?? (await createBackend(settings, config.dataDir, deps.log));
  const store = createJobStore(knex);
  const jobs = new JobManager(store, port, backend, deps.log);
  const workspaceBackend = deps.workspaceBackend ?? (await createWorkspaceBackend(settings, config.dataDir, deps.log));
  const workspaces = new WorkspaceManager(createWorkspaceStore(knex), port, workspaceBackend, deps.log, { refreshIntervalMs: deps.workspaceRefreshMs });
  // Denied calls go into an audit chain through the secret store (DESIGN §3).
  const denials = new DenialAudit(JOB_LAUNCHER_SERVICE, recordThroughSecretStore(secretStore), deps.log);
  return {
    jobs,
    workspaces,
    logStreams: new LogStreamLimits(settings.logStreamsPerPrincipal),
    store,
    knex,
    denials,
    stopJobs: async () => {
      await Promise.all([backend.close(), workspaces.close()]);
    },
    async close() {
      await Promise.all([backend.close(), workspaces.close()]);
      await denials.close();
      secretStore.close();
      kms.close();
      await knex.destroy();
    },
  };
}
