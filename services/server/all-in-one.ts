import { identityFor, type CommonConfig } from '../runtime/config.js';
import { CallTracker, startGrpcServer, type RegisteredService, type RunningServer } from '../runtime/grpc-server.js';
import { InProcessChannel } from '../runtime/in-process-channel.js';
import { watchHealth } from '../runtime/health-watch.js';
import type { Logger } from '../runtime/logger.js';
import { loadDescriptorSet } from '../runtime/repo-files.js';
import { startMetricsServer, type MetricsServer } from '../runtime/metrics.js';
import { KMS_SERVICE, openKeyManagement } from '../key-management/app.js';
import { keyManagementService } from '../key-management/server.js';
import type { MasterKeyProviderSettings } from '../key-management/providers/provider-settings.js';
import { SECRET_STORE_SERVICE, openSecretStore } from '../secret-store/app.js';
import { secretStoreService } from '../secret-store/server.js';
import { JOB_LAUNCHER_SERVICE, openJobLauncher, type JobLauncherSettings } from '../job-launcher/app.js';
import type { JobBackend } from '../job-launcher/backend.js';
import { jobService } from '../job-launcher/server.js';
import { workspaceService } from '../job-launcher/workspaces/server.js';
import type { WorkspaceBackend } from '../job-launcher/workspaces/workspace-backend.js';

export interface AllInOne {
  server: RunningServer;
  endpoint: string;
  /** The Prometheus endpoint (http://host:port/metrics), when metricsListen was given. */
  metricsUrl?: string;
  /** Where the master keys live, for the ready line. */
  masterKeys: string;
  /** What the services' calls to each other go through (tests compare it with the network). */
  inProcess: InProcessChannel;
  /** Drains in-flight calls, stops local jobs, then closes databases. */
  stop(): Promise<void>;
}

export interface AllInOneOptions {
  listen: string;
  /** Where the master keys live: the keyring file, or an HSM token. */
  masterKeys: MasterKeyProviderSettings;
  jobs: JobLauncherSettings;
  log: Logger;
  /** A backend to use instead of the configured one (tests: Kubernetes against a fake API). */
  backend?: JobBackend;
  /** The same for workspaces. */
  workspaceBackend?: WorkspaceBackend;
  /** How often running workspaces' files are checked against their secrets (default 1 s). */
  workspaceRefreshMs?: number;
  /** HOST:PORT for Prometheus metrics over HTTP; none when unset. */
  metricsListen?: string;
}

async function closeAll(parts: { close(): Promise<void> }[]): Promise<void> {
  // Newest first: the job launcher stops its children before the stores close.
  for (const part of [...parts].reverse()) await part.close();
}

/**
 * Every service in one process on one port. They still talk to each other through their gRPC
 * clients, nothing bypasses a contract: unary calls between them stay in the process
 * (in-process-channel.ts: encoded as their messages, authenticated, checked, logged and
 * counted by the same adapter), the rest go over that port.
 */
export async function startAllInOne(config: CommonConfig, opts: AllInOneOptions): Promise<AllInOne> {
  const { log } = opts;
  const logFor = (component: string) => log.child({ component });
  let endpoint = '';
  const self = () => endpoint;
  const opened: { close(): Promise<void> }[] = [];
  let server: RunningServer;
  let metricsServer: MetricsServer | undefined;
  let checks: (() => Promise<void>)[];
  // Aggregated denials and pending checkpoints, written while the services can still reach each other.
  const flushes: (() => Promise<void>)[] = [];
  let stopJobs = async () => {};
  let masterKeys: string;
  const inProcess = new InProcessChannel();
  let services: RegisteredService[];
  try {
    const kmsIdentity = await identityFor(config, KMS_SERVICE, true);
    const storeIdentity = await identityFor(config, SECRET_STORE_SERVICE, true);
    const launcherIdentity = await identityFor(config, JOB_LAUNCHER_SERVICE, true);
    const kms = await openKeyManagement(config, opts.masterKeys, logFor(KMS_SERVICE), { secretStoreEndpoint: self, token: kmsIdentity.serviceToken, inProcess });
    opened.push(kms);
    masterKeys = kms.keyProvider.where;
    const secretStore = await openSecretStore(config, { endpoint: self, token: storeIdentity.serviceToken, inProcess }, logFor(SECRET_STORE_SERVICE));
    opened.push(secretStore);
    const launcher = await openJobLauncher(config, opts.jobs, {
      secretStoreEndpoint: self,
      kmsEndpoint: self,
      token: launcherIdentity.serviceToken,
      inProcess,
      log: logFor(JOB_LAUNCHER_SERVICE),
      backend: opts.backend,
      workspaceBackend: opts.workspaceBackend,
      workspaceRefreshMs: opts.workspaceRefreshMs,
    });
    opened.push(launcher);
    flushes.push(async () => {
      await Promise.all([kms.denials.close(), secretStore.denials.close(), launcher.denials.close()]);
      await secretStore.checkpoints.close();
    });
    stopJobs = launcher.stopJobs;
    const tracker = new CallTracker();
    server = await startGrpcServer({
      listen: opts.listen,
      tls: config.tls,
      log,
      tracker,
      descriptorSet: loadDescriptorSet(),
      services: (services = [
        keyManagementService({ keys: kms.keys, masterKeys: kms.masterKeys, orgKeys: kms.orgKeys, fingerprints: kms.fingerprints, auditChain: kms.auditChain, denials: kms.denials, verifier: kmsIdentity.verifier, log: logFor(KMS_SERVICE), tracker }),
        secretStoreService({ secrets: secretStore.secrets, store: secretStore.store, knex: secretStore.knex, kms: secretStore.kms, audit: secretStore, verifier: storeIdentity.verifier, log: logFor(SECRET_STORE_SERVICE), tracker }),
        jobService({ jobs: launcher.jobs, denials: launcher.denials, logStreams: launcher.logStreams, verifier: launcherIdentity.verifier, log: logFor(JOB_LAUNCHER_SERVICE), tracker }),
        workspaceService({ workspaces: launcher.workspaces, denials: launcher.denials, verifier: launcherIdentity.verifier, log: logFor(JOB_LAUNCHER_SERVICE), tracker }),
      ]),
    });
    inProcess.serve(services);
    await launcher.jobs.reconcile();
    await launcher.workspaces.reconcile();
    launcher.workspaces.startRefreshing();
    if (opts.metricsListen) {
      metricsServer = await startMetricsServer(opts.metricsListen, tracker.metrics, log);
      opened.push(metricsServer);
    }
    checks = [() => kms.store.ping(), () => secretStore.store.ping(), () => launcher.store.ping()];
  } catch (err) {
    inProcess.close();
    await closeAll(opened);
    throw err;
  }
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(':'));
  const reachable = (h: string) => (h === '0.0.0.0' || h === '[::]' ? '127.0.0.1' : h);
  endpoint = `${reachable(host)}:${server.port}`;
  const metricsHost = opts.metricsListen?.slice(0, opts.metricsListen.lastIndexOf(':'));
  const stopWatch = await watchHealth(server, checks, log);
  return {
    server,
    endpoint,
    inProcess,
    masterKeys,
    metricsUrl: metricsServer && metricsHost ? `http://${reachable(metricsHost)}:${metricsServer.port}/metrics` : undefined,
    async stop() {
      stopWatch();
      // Jobs end first: a job that outlived the listener could bind its port on the shared
      // loopback and take the tokens of the clients that connect next.
      await stopJobs();
      for (const flush of flushes) await flush();
      await server.shutdown();
      inProcess.close();
      await closeAll(opened);
    },
  };
}
