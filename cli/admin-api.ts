// Loaded lazily (see BaseCommand.openAdminApi): it pulls in grpc-js and the generated code.
import { KeyManagementServiceService, masterKey_StateToJSON, type MasterKey } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService, type RewrapSecretsResponse } from '../services/gen/vessl/secrets/v1/secrets.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { clientOptions } from './client-options.js';
import { enumJson, timeJson } from './json-values.js';
import type { Connection } from './settings.js';

/** A master key version (cli/json-values.ts: every field; state "active" or "destroyed"). */
export interface MasterKeyJson {
  version: number;
  state: string;
  primary: boolean;
  createTime: string | null;
  wrappedOrgKeys: number;
  wrappedDataKeys: number;
}

/** A rewrap's progress: every field, zero or false included (`done: false` says it stopped early). */
export interface RewrapProgressJson {
  kekVersion: number;
  orgKeysRewrapped: number;
  dataKeysRewrapped: number;
  dataKeysTotal: number;
  done: boolean;
}

const rewrapProgressJson = (p: RewrapSecretsResponse): RewrapProgressJson => ({
  kekVersion: p.kekVersion,
  orgKeysRewrapped: p.orgKeysRewrapped,
  dataKeysRewrapped: p.dataKeysRewrapped,
  dataKeysTotal: p.dataKeysTotal,
  done: p.done,
});

export interface AdminApi {
  listMasterKeys(): Promise<MasterKeyJson[]>;
  rotateMasterKey(): Promise<MasterKeyJson>;
  retireMasterKey(version: number): Promise<MasterKeyJson>;
  rewrap(batchSize: number, signal?: AbortSignal): AsyncIterable<RewrapProgressJson>;
  close(): void;
}

const json = (k: MasterKey): MasterKeyJson => ({
  version: k.version,
  state: enumJson(masterKey_StateToJSON(k.state)),
  primary: k.primary,
  createTime: timeJson(k.createTime),
  wrappedOrgKeys: k.wrappedOrgKeys,
  wrappedDataKeys: k.wrappedDataKeys,
});

export function openAdminApi(connection: Connection): AdminApi {
  const options = clientOptions(connection);
  const kms = createServiceClient(KeyManagementServiceService, connection.endpoint, options);
  const secrets = createServiceClient(SecretServiceService, connection.endpoint, options);
  return {
    async listMasterKeys() {
      return (await kms.listMasterKeys({})).keys.map(json);
    },
    async rotateMasterKey() {
      return json(await kms.rotateMasterKey({}));
    },
    async retireMasterKey(version) {
      return json(await kms.retireMasterKey({ version }));
    },
    async *rewrap(batchSize, signal) {
      for await (const p of secrets.rewrapSecrets({ batchSize }, { signal })) yield rewrapProgressJson(p);
    },
    close() {
      kms.close();
      secrets.close();
    },
  };
}
