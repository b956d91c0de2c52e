import { identityFor, type CommonConfig } from '../runtime/config.js';
import { startGrpcServer, type RunningServer } from '../runtime/grpc-server.js';
import type { Logger } from '../runtime/logger.js';
import { loadDescriptorSet } from '../runtime/repo-files.js';
import { KMS_SERVICE, openKeyManagement } from '../key-management/app.js';
import { keyManagementService } from '../key-management/server.js';
import { SECRET_STORE_SERVICE, openSecretStore } from '../secret-store/app.js';
import { secretStoreService } from '../secret-store/server.js';
import { watchHealth } from '../runtime/health-watch.js';

export interface AllInOne {
  server: RunningServer;
  endpoint: string;
  /** Drains in-flight calls, then closes databases. */
  stop(): Promise<void>;
}

/**
 * Every service in one process on one port. They still talk to each other through their
 * gRPC clients over that port: nothing bypasses a contract.
 */
export async function startAllInOne(config: CommonConfig, opts: { listen: string; keyringFile: string; log: Logger }): Promise<AllInOne> {
  const { log } = opts;
  const kmsIdentity = await identityFor(config, KMS_SERVICE, true);
  const storeIdentity = await identityFor(config, SECRET_STORE_SERVICE, true);
  const kms = await openKeyManagement(config, opts.keyringFile, log.child({ component: KMS_SERVICE }));
  let endpoint = '';
  const secretStore = await openSecretStore(config, { endpoint: () => endpoint, token: storeIdentity.serviceToken }).catch(
    async (err: unknown) => {
      await kms.close();
      throw err;
    },
  );
  let server: RunningServer;
  try {
    server = await startGrpcServer({
      listen: opts.listen,
      tls: config.tls,
      log,
      descriptorSet: loadDescriptorSet(),
      services: [
        keyManagementService({ keys: kms.keys, verifier: kmsIdentity.verifier, log: log.child({ component: KMS_SERVICE }) }),
        secretStoreService({
          secrets: secretStore.secrets,
          store: secretStore.store,
          verifier: storeIdentity.verifier,
          log: log.child({ component: SECRET_STORE_SERVICE }),
        }),
      ],
    });
  } catch (err) {
    await Promise.all([kms.close(), secretStore.close()]);
    throw err;
  }
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(':'));
  endpoint = `${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${server.port}`;
  const stopWatch = await watchHealth(server, [() => kms.store.ping(), () => secretStore.store.ping()], log);
  return {
    server,
    endpoint,
    async stop() {
      stopWatch();
      await server.shutdown();
      await Promise.all([kms.close(), secretStore.close()]);
    },
  };
}
