// secret-store on its own: `node dist/services/secret-store/main.js [--kms-endpoint HOST:PORT] ...`
import { identityFor, listenAddress, peerChannel, setting } from '../runtime/config.js';
import { peerHealthCheck } from '../runtime/peer-health.js';
import { mainOf } from '../runtime/service-main.js';
import { SECRET_STORE_SERVICE, openSecretStore } from './app.js';
import { secretStoreService } from './server.js';

mainOf({
  name: SECRET_STORE_SERVICE,
  defaultListen: '127.0.0.1:50053',
  flags: ['kms-endpoint'],
  usage: `secret-store: secret metadata, ciphertext at rest, soft delete, audit log

  node dist/services/secret-store/main.js [--listen HOST:PORT] [--kms-endpoint HOST:PORT] [--data-dir DIR]
      [--database-url URL] [--tls-cert-file F --tls-key-file F] [--jwks-url URL --service-token-file F]
  Env: VESSL_LISTEN (127.0.0.1:50053), VESSL_KMS_ENDPOINT (127.0.0.1:50052), VESSL_DATA_DIR, VESSL_DATABASE_URL, ...
`,
  async build(config, flags, log, tracker) {
    const identity = await identityFor(config, SECRET_STORE_SERVICE, true);
    const kmsEndpoint = listenAddress(setting(flags, 'kms-endpoint'), '127.0.0.1:50052');
    const app = await openSecretStore(config, { endpoint: kmsEndpoint, token: identity.serviceToken }, log);
    // Creates and rotations need key-management: without it this service is not serving.
    const kms = peerHealthCheck({ name: 'key-management', endpoint: kmsEndpoint }, peerChannel(config));
    return {
      services: [secretStoreService({ secrets: app.secrets, store: app.store, knex: app.knex, kms: app.kms, audit: app, verifier: identity.verifier, log, tracker })],
      checks: [() => app.store.ping(), kms.check],
      close: async () => {
        kms.close();
        await app.close();
      },
    };
  },
});
