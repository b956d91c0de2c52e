// Loaded lazily (see BaseCommand.openApi): it pulls in grpc-js and the generated code.
import { Client, status } from '@grpc/grpc-js';
import { KeyManagementServiceService, OrgPublicKey } from '../services/gen/vessl/kms/v1/kms.js';
import { Secret, SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { channelCredentials, createServiceClient } from '../services/runtime/grpc-client.js';
import { decodeServiceError, isServiceError } from '../services/runtime/errors.js';
import type { OrgKey, OrgKeySource, SealedValue } from './sealing.js';
import type { Connection } from './settings.js';

/** A secret as `-o json` prints it: Secret.toJSON (proto camelCase; default values omitted). */
export interface SecretJson {
  org?: string;
  name?: string;
  uid?: string;
  key?: string;
  description?: string;
  version?: number;
  state?: string;
  createTime?: string;
  updateTime?: string;
  valueUpdateTime?: string;
  deleteTime?: string;
  createBy?: string;
  updateBy?: string;
  deleteBy?: string;
}

/** OrgPublicKey.toJSON: publicKey in base64. */
export interface OrgPublicKeyJson {
  org?: string;
  keyId?: string;
  publicKey?: string;
  algorithm?: string;
  createTime?: string;
}

export interface SecretFields {
  name: string;
  key?: string;
  description?: string;
}

export interface SecretPage {
  secrets: SecretJson[];
  nextPageToken: string;
}

/** The calls vesslctl makes, for one endpoint, org and token, in the shapes it prints. */
export interface SecretsApi extends OrgKeySource {
  getOrgPublicKey(): Promise<OrgPublicKeyJson>;
  createSecret(fields: SecretFields, value: SealedValue): Promise<SecretJson>;
  updateSecret(fields: SecretFields, value: SealedValue | undefined, updateMask: string[]): Promise<SecretJson>;
  listSecrets(page: { pageSize: number; pageToken: string; showDeleted: boolean }): Promise<SecretPage>;
  getSecret(name: string): Promise<SecretJson>;
  deleteSecret(name: string): Promise<SecretJson>;
  close(): void;
}

const ORG_KEY_STALE = 'ORG_KEY_STALE';

const secretJson = (secret: Secret) => Secret.toJSON(secret) as SecretJson;

export function openSecretsApi(connection: Connection): SecretsApi {
  const { endpoint, org, token } = connection;
  // One channel for both services: the CLI talks to a single endpoint (DESIGN §1).
  const channel = new Client(endpoint, channelCredentials(endpoint));
  const options = { token: async () => token, channel };
  const secrets = createServiceClient(SecretServiceService, endpoint, options);
  const kms = createServiceClient(KeyManagementServiceService, endpoint, options);

  return {
    connection,
    async getOrgPublicKey() {
      return OrgPublicKey.toJSON(await kms.getOrgPublicKey({ org })) as OrgPublicKeyJson;
    },
    async fetchOrgKey(): Promise<OrgKey> {
      const key = await kms.getOrgPublicKey({ org });
      return { keyId: key.keyId, publicKey: key.publicKey };
    },
    isOrgKeyStale(err) {
      if (!isServiceError(err) || err.code !== status.FAILED_PRECONDITION) return false;
      return decodeServiceError(err).reason === ORG_KEY_STALE;
    },
    async createSecret(fields, value) {
      return secretJson(await secrets.createSecret({ org, secret: Secret.fromPartial(fields), value }));
    },
    async updateSecret(fields, value, updateMask) {
      return secretJson(await secrets.updateSecret({ org, secret: Secret.fromPartial(fields), value, updateMask }));
    },
    async listSecrets(page) {
      const response = await secrets.listSecrets({ org, ...page });
      return { secrets: response.secrets.map(secretJson), nextPageToken: response.nextPageToken };
    },
    async getSecret(name) {
      return secretJson(await secrets.getSecret({ org, name }));
    },
    async deleteSecret(name) {
      return secretJson(await secrets.deleteSecret({ org, name }));
    },
    close() {
      secrets.close();
      kms.close();
      channel.close();
    },
  };
}
