// Loaded lazily (see BaseCommand.openApi): it pulls in grpc-js and the generated code.
import { Client, status } from '@grpc/grpc-js';
import { KeyManagementServiceService, orgKey_StateToJSON, type OrgKey as OrgKeyMessage, type OrgPublicKey } from '../services/gen/vessl/kms/v1/kms.js';
import { Secret, secret_EnvVarFitToJSON, secret_StateToJSON, SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { clientOptions } from './client-options.js';
import { enumJson, timeJson } from './json-values.js';
import { decodeServiceError, isServiceError, type DecodedStatus } from '../services/runtime/errors.js';
import type { OrgKey, OrgKeySource, SealedValue } from './sealing.js';
import type { Connection } from './settings.js';

/** A secret as `-o json` prints it (cli/json-values.ts: every field, proto camelCase). */
export interface SecretJson {
  org: string;
  name: string;
  uid: string;
  key: string;
  description: string;
  version: number;
  /** "active" or "deleted". */
  state: string;
  createTime: string | null;
  updateTime: string | null;
  valueUpdateTime: string | null;
  deleteTime: string | null;
  createBy: string;
  updateBy: string;
  deleteBy: string;
  /** Keyed BLAKE2b-256 of the current value (hex): equal fingerprints, equal values. */
  valueFingerprint: string;
  /** Whether the value can be an environment variable: "ok", "nul_byte", "not_utf8", or "unspecified" (stored before that was recorded). */
  envVarFit: string;
}

/** The org public key values are sealed with: publicKey in base64. */
export interface OrgPublicKeyJson {
  org: string;
  keyId: string;
  publicKey: string;
  algorithm: string;
  createTime: string | null;
}

/** An org keypair's public half (base64) and lifecycle state ("primary", "previous", "retired"). */
export interface OrgKeyJson {
  org: string;
  keyId: string;
  publicKey: string;
  state: string;
  createTime: string | null;
  retireTime: string | null;
}

/** VerifySecretValueResponse, with the secret it is about. */
export interface VerificationJson {
  name: string;
  matches: boolean;
  version: number;
}

export interface SecretFields {
  name: string;
  key?: string;
  description?: string;
}

/** One secret of a BatchCreateSecrets call. */
export interface NewSecret {
  fields: SecretFields;
  value: SealedValue;
}

/**
 * What a failed BatchCreateSecrets says about its items: the problems of the items it names
 * (by index, from `requests[i]...` field violations or the names in ALREADY_EXISTS), or
 * undefined when the failure is not about particular items (e.g. the server is unreachable).
 */
export type BatchItemProblems = Map<number, string>;

export interface SecretPage {
  secrets: SecretJson[];
  nextPageToken: string;
}

/** The calls vesslctl makes, for one endpoint, org and token, in the shapes it prints. */
export interface SecretsApi extends OrgKeySource {
  getOrgPublicKey(): Promise<OrgPublicKeyJson>;
  createSecret(fields: SecretFields, value: SealedValue): Promise<SecretJson>;
  /** Creates all of them or none (one call); in the order given. */
  batchCreateSecrets(secrets: NewSecret[]): Promise<SecretJson[]>;
  /** The items a failed batchCreateSecrets names, and what is wrong with each. */
  batchItemProblems(err: unknown, names: string[]): BatchItemProblems | undefined;
  updateSecret(fields: SecretFields, value: SealedValue | undefined, updateMask: string[]): Promise<SecretJson>;
  listSecrets(page: { pageSize: number; pageToken: string; showDeleted: boolean }): Promise<SecretPage>;
  getSecret(name: string): Promise<SecretJson>;
  deleteSecret(name: string): Promise<SecretJson>;
  /** Whether the sealed candidate is the secret's current value (compared by fingerprint). */
  verifySecretValue(name: string, value: SealedValue): Promise<VerificationJson>;
  rotateOrgKey(): Promise<OrgKeyJson>;
  /** Newest first. */
  listOrgKeys(): Promise<OrgKeyJson[]>;
  retireOrgKey(keyId: string): Promise<OrgKeyJson>;
  close(): void;
}

const ORG_KEY_STALE = 'ORG_KEY_STALE';
/** A batch encrypts every value through key-management: more than the default 10 s. */
const BATCH_CALL = { timeoutMs: 60_000 };
const BATCH_FIELD = /^requests\[(\d+)\]\.(.+)$/;

/** Explicit mappers: every field, times as RFC 3339 or null, enums lower case (cli/json-values.ts). */
const secretJson = (s: Secret): SecretJson => ({
  org: s.org,
  name: s.name,
  uid: s.uid,
  key: s.key,
  description: s.description,
  version: s.version,
  state: enumJson(secret_StateToJSON(s.state)),
  createTime: timeJson(s.createTime),
  updateTime: timeJson(s.updateTime),
  valueUpdateTime: timeJson(s.valueUpdateTime),
  deleteTime: timeJson(s.deleteTime),
  createBy: s.createBy,
  updateBy: s.updateBy,
  deleteBy: s.deleteBy,
  valueFingerprint: s.valueFingerprint,
  envVarFit: secret_EnvVarFitToJSON(s.envVarFit).replace(/^ENV_VAR_FIT_/, '').toLowerCase(),
});

const orgKeyJson = (k: OrgKeyMessage): OrgKeyJson => ({
  org: k.org,
  keyId: k.keyId,
  publicKey: Buffer.from(k.publicKey).toString('base64'),
  state: enumJson(orgKey_StateToJSON(k.state)),
  createTime: timeJson(k.createTime),
  retireTime: timeJson(k.retireTime),
});

const orgPublicKeyJson = (k: OrgPublicKey): OrgPublicKeyJson => ({
  org: k.org,
  keyId: k.keyId,
  publicKey: Buffer.from(k.publicKey).toString('base64'),
  algorithm: k.algorithm,
  createTime: timeJson(k.createTime),
});

export function openSecretsApi(connection: Connection): SecretsApi {
  const { endpoint, org } = connection;
  // One channel for both services: the CLI talks to a single endpoint (DESIGN §1).
  const { token, credentials } = clientOptions(connection);
  const channel = new Client(endpoint, credentials);
  const options = { token, channel };
  const secrets = createServiceClient(SecretServiceService, endpoint, options);
  const kms = createServiceClient(KeyManagementServiceService, endpoint, options);

  return {
    connection,
    async getOrgPublicKey() {
      return orgPublicKeyJson(await kms.getOrgPublicKey({ org }));
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
    async batchCreateSecrets(items) {
      const requests = items.map(({ fields, value }) => ({ org, secret: Secret.fromPartial(fields), value }));
      return (await secrets.batchCreateSecrets({ org, requests }, BATCH_CALL)).secrets.map(secretJson);
    },
    batchItemProblems(err, names) {
      return isServiceError(err) ? itemProblems(decodeServiceError(err), names) : undefined;
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
    async verifySecretValue(name, value) {
      const { matches, version } = await secrets.verifySecretValue({ org, name, value });
      return { name, matches, version };
    },
    async rotateOrgKey() {
      return orgKeyJson(await kms.rotateOrgKey({ org }));
    },
    async listOrgKeys() {
      return (await kms.listOrgKeys({ org })).keys.map(orgKeyJson);
    },
    async retireOrgKey(keyId) {
      return orgKeyJson(await kms.retireOrgKey({ org, keyId }));
    },
    close() {
      secrets.close();
      kms.close();
      channel.close();
    },
  };
}

/**
 * Maps a failed batch back to its items: INVALID_ARGUMENT field violations named
 * `requests[i].<field>`, and the quoted names of an ALREADY_EXISTS ("secrets "A", "B"
 * already exist in org ..."). Undefined when no item is named.
 */
function itemProblems(decoded: DecodedStatus, names: string[]): BatchItemProblems | undefined {
  const problems: BatchItemProblems = new Map();
  const add = (index: number, problem: string) => problems.set(index, problems.has(index) ? `${problems.get(index)}; ${problem}` : problem);
  if (decoded.code === status.INVALID_ARGUMENT) {
    for (const violation of decoded.fieldViolations) {
      const match = BATCH_FIELD.exec(violation.field);
      if (!match || Number(match[1]) >= names.length) return undefined; // about the whole batch
      add(Number(match[1]), `${match[2]}: ${violation.description}`);
    }
    for (const [index, problem] of problems) problems.set(index, `${problem} (INVALID_ARGUMENT)`);
  } else if (decoded.code === status.ALREADY_EXISTS) {
    const named = decoded.message.split(/ already exists?\b/)[0];
    const taken = new Set([...named.matchAll(/"([^"]+)"/g)].map((m) => m[1]));
    names.forEach((name, index) => {
      if (taken.has(name)) add(index, `secret "${name}" already exists: use \`vesslctl secret update ${name}\` (ALREADY_EXISTS)`);
    });
  }
  return problems.size > 0 ? problems : undefined;
}
