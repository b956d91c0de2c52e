// key-management on its own: `node dist/services/key-management/main.js [--listen HOST:PORT] ...`
import { identityFor, listenAddress, setting } from '../runtime/config.js';
import { mainOf } from '../runtime/service-main.js';
import { KMS_SERVICE, MASTER_KEY_FLAGS, masterKeysOf, openKeyManagement } from './app.js';
import { keyManagementService } from './server.js';

mainOf({
  name: KMS_SERVICE,
  defaultListen: '127.0.0.1:50052',
  flags: [...MASTER_KEY_FLAGS, 'secret-store-endpoint'],
  usage: `key-management: master keyring, org keypairs, envelope encryption

  node dist/services/key-management/main.js [--listen HOST:PORT] [--data-dir DIR] [--database-url URL]
      [--master-keyring-file FILE] [--secret-store-endpoint HOST:PORT] [--tls-cert-file F --tls-key-file F]
      [--jwks-url URL --service-token-file F]
      [--master-key-provider file|pkcs11 --pkcs11-module LIB (--pkcs11-token-label L | --pkcs11-slot N) --pkcs11-pin-file F]
  Env: VESSL_LISTEN (127.0.0.1:50052), VESSL_DATA_DIR, VESSL_DATABASE_URL, VESSL_MASTER_KEYRING_FILE,
       VESSL_SECRET_STORE_ENDPOINT (127.0.0.1:50053), VESSL_MASTER_KEY_PROVIDER (file), VESSL_PKCS11_MODULE,
       VESSL_PKCS11_TOKEN_LABEL or VESSL_PKCS11_SLOT, VESSL_PKCS11_PIN_FILE or VESSL_PKCS11_PIN, ...
`,
  async build(config, flags, log, tracker) {
    const identity = await identityFor(config, KMS_SERVICE, true);
    const app = await openKeyManagement(config, masterKeysOf(config, flags), log, {
      secretStoreEndpoint: listenAddress(setting(flags, 'secret-store-endpoint'), '127.0.0.1:50053'),
      token: identity.serviceToken,
    });
    return {
      services: [keyManagementService({ keys: app.keys, masterKeys: app.masterKeys, orgKeys: app.orgKeys, fingerprints: app.fingerprints, auditChain: app.auditChain, denials: app.denials, verifier: identity.verifier, log, tracker })],
      checks: [() => app.store.ping()],
      close: () => app.close(),
    };
  },
});
