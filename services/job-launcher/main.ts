// job-launcher on its own: `node dist/services/job-launcher/main.js --secret-store-endpoint H:P --kms-endpoint H:P`
import { identityFor, listenAddress, peerChannel, setting } from '../runtime/config.js';
import { peerHealthCheck } from '../runtime/peer-health.js';
import { mainOf } from '../runtime/service-main.js';
import { JOB_LAUNCHER_SERVICE, jobLauncherSettings, openJobLauncher } from './app.js';
import { jobService } from './server.js';
import { workspaceService } from './workspaces/server.js';

mainOf({
  name: JOB_LAUNCHER_SERVICE,
  defaultListen: '127.0.0.1:50054',
  flags: ['secret-store-endpoint', 'kms-endpoint', 'job-backend', 'job-namespace', 'job-network', 'job-work-root', 'job-uids', 'unsafe-no-job-sandbox', 'max-log-streams-per-principal'],
  usage: `job-launcher: jobs, attempts, workspaces, secret injection (local processes or Kubernetes)

  node dist/services/job-launcher/main.js [--listen HOST:PORT] [--secret-store-endpoint HOST:PORT]
      [--kms-endpoint HOST:PORT] [--job-backend local|kubernetes] [--job-namespace 'vessl-{org}'] [--data-dir DIR] ...
  Env: VESSL_LISTEN (127.0.0.1:50054), VESSL_SECRET_STORE_ENDPOINT (127.0.0.1:50053), VESSL_KMS_ENDPOINT (127.0.0.1:50052),
       VESSL_JOB_BACKEND (local), VESSL_JOB_NAMESPACE (vessl-{org}), VESSL_DATA_DIR, VESSL_DATABASE_URL,
       VESSL_JOB_NETWORK (shared | isolated), VESSL_JOB_WORK_ROOT, VESSL_JOB_UIDS, VESSL_UNSAFE_NO_JOB_SANDBOX,
       VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL (16), ...
`,
  async build(config, flags, log, tracker) {
    const identity = await identityFor(config, JOB_LAUNCHER_SERVICE, true);
    const secretStoreEndpoint = listenAddress(setting(flags, 'secret-store-endpoint'), '127.0.0.1:50053');
    const kmsEndpoint = listenAddress(setting(flags, 'kms-endpoint'), '127.0.0.1:50052');
    const app = await openJobLauncher(config, jobLauncherSettings(flags), { secretStoreEndpoint, kmsEndpoint, token: identity.serviceToken, log });
    await app.jobs.reconcile();
    await app.workspaces.reconcile();
    app.workspaces.startRefreshing();
    // Launches need both: resolving secrets (secret-store) and decrypting them (key-management).
    const peers = [
      peerHealthCheck({ name: 'secret-store', endpoint: secretStoreEndpoint }, peerChannel(config)),
      peerHealthCheck({ name: 'key-management', endpoint: kmsEndpoint }, peerChannel(config)),
    ];
    return {
      services: [
        jobService({ jobs: app.jobs, denials: app.denials, logStreams: app.logStreams, verifier: identity.verifier, log, tracker }),
        workspaceService({ workspaces: app.workspaces, denials: app.denials, verifier: identity.verifier, log, tracker }),
      ],
      checks: [() => app.store.ping(), ...peers.map((p) => p.check)],
      close: async () => {
        for (const p of peers) p.close();
        await app.close();
      },
    };
  },
});
