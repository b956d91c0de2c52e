import { ListSecretsResponse, SecretServiceService, Secret_EnvVarFit, Secret_State, type CreateSecretRequest, type ResolvedSecret, type ResolveSecretsRequest, type Secret } from '../gen/vessl/secrets/v1/secrets.js';
import { requireOrgRole, requireService, type TokenVerifier } from '../runtime/auth.js';
import { fromDownstream } from '../runtime/errors.js';
import { EncodedResponse, implementService, type CallTracker, type CallContext, type RegisteredService } from '../runtime/grpc-server.js';
import type { Logger } from '../runtime/logger.js';
import { filePathProblem } from '../runtime/secret-file-paths.js';
import { Violations } from '../runtime/validation.js';
import type { EnvVarFit } from '../runtime/env-var-fit.js';
import { BatchItemError, type Actor, type NewSecret, type SecretManager, type SecretChanges } from './domain.js';
import { decodePageToken, encodePageToken } from './page-token.js';
import { rewrapHandlers } from './rewrap-handlers.js';
import { auditHandlers } from './audit-handlers.js';
import { verifyHandlers } from './verify-handlers.js';
import type { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import type { Knex } from '../runtime/db.js';
import type { ServiceClient } from '../runtime/grpc-client.js';
import { SECRET_MANAGERS, SECRET_READERS, secretRightsOf } from './access.js';
import { checkDescription, checkKey, checkName, checkNewSecretFields, checkSealedValue, checkSecretKey, MAX_SECRETS_PER_LOOKUP } from './rules.js';
import type { SecretMetadata, SecretRow, SecretStore } from './store.js';
import type { ListPage } from './list-cache.js';
import type { SecretStoreApp } from './app.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const MAX_BATCH = 500;
const UPDATABLE_PATHS = ['key', 'description', 'value'] as const;
// A job (j_...) or a workspace (w_...): what the values are for.
const RUNNER_ID_PATTERN = /^[jw]_[A-Za-z0-9_-]{4,40}$/;
const SECRET_UID_PATTERN = /^s_[A-Za-z0-9_-]{4,40}$/;

/** Secret names for a launch: at least one, at most MAX_SECRETS_PER_LOOKUP, each valid and given once. */
function checkSecretNames(v: Violations, names: string[], field: string): Violations {
  v.check(names.length > 0, field, 'name at least one secret')
    .check(names.length <= MAX_SECRETS_PER_LOOKUP, field, `at most ${MAX_SECRETS_PER_LOOKUP} secrets per launch`)
    .check(new Set(names).size === names.length, field, 'each secret at most once');
  names.forEach((n, i) => checkName(v, n, `${field}[${i}]`));
  return v;
}

/** A launch given by references: for a job (audited), each reference and plain variable well-formed. */
function checkReferences(v: Violations, req: ResolveSecretsRequest): void {
  v.check(req.names.length === 0, 'names', 'must be empty when references are given')
    .check(req.jobId !== '', 'job_id', 'is required with references (a launch is audited)')
    .check(req.references.length <= MAX_SECRETS_PER_LOOKUP, 'references', `at most ${MAX_SECRETS_PER_LOOKUP} per launch`)
    .check(req.plainEnvNames.length <= MAX_SECRETS_PER_LOOKUP, 'plain_env_names', `at most ${MAX_SECRETS_PER_LOOKUP} per launch`);
  req.references.forEach((r, i) => {
    checkName(v, r.secretName, `references[${i}].secret_name`);
    if (r.filePath !== '') {
      v.check(r.envName === '', `references[${i}].env_name`, 'must be empty when file_path is set');
      // Any absolute path here: which roots a job may use is the backend's rule, checked by the job launcher.
      const problem = filePathProblem(r.filePath, ['/']);
      if (problem !== undefined) v.add(`references[${i}].file_path`, problem);
      return;
    }
    // Empty: the secret's own key.
    if (r.envName !== '') checkKey(v, r.envName, `references[${i}].env_name`);
  });
  req.plainEnvNames.forEach((name, i) => checkKey(v, name, `plain_env_names[${i}]`));
}

/** Explicit mapper: a stored row never leaves as it is (it holds ciphertext). */
export function toSecretMessage(row: SecretMetadata): Secret {
  return {
    org: row.org,
    name: row.name,
    uid: row.uid,
    key: row.key,
    description: row.description,
    version: row.version,
    state: row.deletedAt === undefined ? Secret_State.STATE_ACTIVE : Secret_State.STATE_DELETED,
    createTime: new Date(row.createdAt),
    updateTime: new Date(row.updatedAt),
    valueUpdateTime: new Date(row.valueUpdatedAt),
    deleteTime: row.deletedAt === undefined ? undefined : new Date(row.deletedAt),
    createBy: row.createdBy,
    updateBy: row.updatedBy,
    deleteBy: row.deletedBy ?? '',
    valueFingerprint: row.value?.fingerprint ?? '',
    envVarFit: ENV_VAR_FIT_TO_PROTO[row.value?.envVarFit ?? 'unknown'],
  };
}

const ENV_VAR_FIT_TO_PROTO: Record<EnvVarFit | 'unknown', Secret_EnvVarFit> = {
  unknown: Secret_EnvVarFit.ENV_VAR_FIT_UNSPECIFIED,
  ok: Secret_EnvVarFit.ENV_VAR_FIT_OK,
  nul_byte: Secret_EnvVarFit.ENV_VAR_FIT_NUL_BYTE,
  not_utf8: Secret_EnvVarFit.ENV_VAR_FIT_NOT_UTF8,
};

function toResolved(row: SecretRow): ResolvedSecret {
  return {
    name: row.name,
    uid: row.uid,
    key: row.key,
    version: row.version,
    ciphertext: Buffer.from(row.value!.ciphertext),
    wrappedDek: Buffer.from(row.value!.wrappedDek),
    kekVersion: row.value!.kekVersion,
  };
}

const actorOf = (ctx: CallContext): Actor => ({ subject: ctx.principal.subject, requestId: ctx.requestId });

/** key-management's errors about a sealed value name fields of this request's `value`. */
const kmsErrorToApi = (prefix: string) => (err: unknown) => fromDownstream(err, 'key-management', (field) => `${prefix}value.${field}`);

/** The rules for one new secret (CreateSecret, or one item of a batch under `prefix`). */
function checkNewSecret(v: Violations, req: CreateSecretRequest, prefix: string): NewSecret {
  const fields = checkNewSecretFields(v, { name: req.secret?.name ?? '', key: req.secret?.key ?? '', description: req.secret?.description ?? '' }, prefix);
  checkSealedValue(v, req.value, `${prefix}value.`);
  return { fields, value: req.value ?? { sealedBox: Buffer.alloc(0), keyId: '' } };
}

export function secretStoreService(deps: {
  secrets: SecretManager;
  store: Pick<SecretStore, 'appendAudit'>;
  /** The database and the key-management client, for the rewrap handlers. */
  knex: Knex;
  kms: ServiceClient<typeof KeyManagementServiceService>;
  /** The audit log (list, verify, record) and the chain the rewrap appends to. */
  audit: Pick<SecretStoreApp, 'auditLog' | 'auditChain' | 'denials'>;
  verifier: TokenVerifier;
  log: Logger;
  tracker?: CallTracker;
}): RegisteredService {
  const { secrets } = deps;
  // A listing page answers the same while SecretManager.list keeps serving it from its
  // cache (same org, filters and position: the page token too), so it is encoded once.
  const encodedPages = new WeakMap<ListPage, EncodedResponse<ListSecretsResponse>>();
  const implementation = implementService(
    SecretServiceService,
    {
      ...rewrapHandlers(deps.knex, deps.kms, deps.audit.auditChain, deps.tracker?.metrics),
      ...auditHandlers(deps.audit.auditLog),
      ...verifyHandlers(deps),
      async createSecret(req, ctx) {
        requireOrgRole(ctx.principal, req.org, SECRET_MANAGERS, 'create secrets');
        const v = new Violations();
        const item = checkNewSecret(v, req, '');
        v.throwIfAny();
        const row = await secrets.create(req.org, item.fields, item.value, actorOf(ctx)).catch((err: unknown) => Promise.reject(kmsErrorToApi('')(err)));
        return toSecretMessage(row);
      },
      async batchCreateSecrets(req, ctx) {
        requireOrgRole(ctx.principal, req.org, SECRET_MANAGERS, 'create secrets');
        const v = new Violations()
          .check(req.requests.length > 0, 'requests', 'name at least one secret')
          .check(req.requests.length <= MAX_BATCH, 'requests', `at most ${MAX_BATCH} secrets per batch`);
        const items = req.requests.map((r, i) => {
          v.check(r.org === '' || r.org === req.org, `requests[${i}].org`, `must be empty or "${req.org}"`);
          return checkNewSecret(v, r, `requests[${i}].`);
        });
        const names = items.map((i) => i.fields.name);
        names.forEach((n, i) => v.check(names.indexOf(n) === i, `requests[${i}].secret.name`, `"${n}" appears twice in the batch`));
        v.throwIfAny();
        const rows = await secrets.createMany(req.org, items, actorOf(ctx)).catch((err: unknown) =>
          Promise.reject(err instanceof BatchItemError ? kmsErrorToApi(`requests[${err.index}].`)(err.cause) : err),
        );
        return { secrets: rows.map(toSecretMessage) };
      },
      async getSecret(req, ctx) {
        requireOrgRole(ctx.principal, req.org, SECRET_READERS, 'read secret metadata');
        const v = new Violations();
        checkName(v, req.name, 'name');
        v.throwIfAny();
        return toSecretMessage(await secrets.get(req.org, req.name));
      },
      async listSecrets(req, ctx) {
        requireOrgRole(ctx.principal, req.org, SECRET_READERS, 'list secrets');
        new Violations().check(req.pageSize >= 0, 'page_size', 'must not be negative').throwIfAny();
        const after = req.pageToken ? decodePageToken(req.pageToken, { org: req.org, showDeleted: req.showDeleted }) : undefined;
        const limit = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
        const page = await secrets.list({ org: req.org, showDeleted: req.showDeleted, limit, after });
        let encoded = encodedPages.get(page);
        if (!encoded) {
          const response: ListSecretsResponse = {
            secrets: page.rows.map(toSecretMessage),
            nextPageToken: page.next ? encodePageToken({ org: req.org, showDeleted: req.showDeleted, after: page.next }) : '',
          };
          encoded = new EncodedResponse(Buffer.from(ListSecretsResponse.encode(response).finish()));
          encodedPages.set(page, encoded);
        }
        return encoded;
      },
      async updateSecret(req, ctx) {
        requireOrgRole(ctx.principal, req.org, SECRET_MANAGERS, 'update secrets');
        const name = req.secret?.name ?? '';
        const paths = req.updateMask ?? [];
        const v = new Violations();
        checkName(v, name, 'secret.name');
        if (paths.length === 0) v.add('update_mask', 'must name at least one of: key, description, value');
        for (const p of paths) {
          v.check((UPDATABLE_PATHS as readonly string[]).includes(p), 'update_mask', `"${p}" cannot be updated; allowed: key, description, value (the name is not renamable)`);
        }
        const changes: SecretChanges = {};
        if (paths.includes('key')) {
          changes.key = req.secret?.key ?? '';
          checkSecretKey(v, changes.key, 'secret.key');
        }
        if (paths.includes('description')) {
          changes.description = req.secret?.description ?? '';
          checkDescription(v, changes.description, 'secret.description');
        }
        if (paths.includes('value')) {
          checkSealedValue(v, req.value, 'value.');
          changes.value = req.value;
        } else if (req.value) {
          v.add('value', 'is set but update_mask does not include "value"');
        }
        v.throwIfAny();
        const row = await secrets.update(req.org, name, changes, actorOf(ctx)).catch((err: unknown) => Promise.reject(kmsErrorToApi('')(err)));
        return toSecretMessage(row);
      },
      async deleteSecret(req, ctx) {
        requireOrgRole(ctx.principal, req.org, SECRET_MANAGERS, 'delete secrets');
        const v = new Violations();
        checkName(v, req.name, 'name');
        v.throwIfAny();
        return toSecretMessage(await secrets.delete(req.org, req.name, actorOf(ctx)));
      },
      async resolveSecrets(req, ctx) {
        requireService(ctx.principal, ['job-launcher'], 'resolve secrets for a launch');
        const planned = req.references.length > 0;
        const v = new Violations().org(req.org);
        if (planned) checkReferences(v, req);
        else {
          checkSecretNames(v, req.names, 'names');
          v.check(req.plainEnvNames.length === 0, 'plain_env_names', 'is only for a launch given by references');
        }
        v.check(req.jobId === '' || RUNNER_ID_PATTERN.test(req.jobId), 'job_id', 'must be a job id like j_0123456789ab or a workspace id like w_0123456789ab')
          .check(req.attempt >= 0, 'attempt', 'must not be negative')
          .check(!req.refresh || req.jobId.startsWith('w_'), 'refresh', 'is only for a workspace (job_id w_...)')
          .check(!req.refresh || (planned && req.references.every((r) => r.filePath !== '')), 'refresh', 'is only for files given by references')
          .check(req.onBehalfOf.length <= 256, 'on_behalf_of', 'is longer than 256 characters')
          .throwIfAny();
        const reference = { jobId: req.jobId, attempt: req.attempt, refresh: req.refresh, onBehalfOf: req.onBehalfOf, caller: ctx.principal.subject, requestId: ctx.requestId };
        if (!planned) return { secrets: (await secrets.resolve(req.org, req.names, reference)).map(toResolved), injections: [], warnings: [] };
        const { secrets: injected, plan } = await secrets.resolveForLaunch(req.org, req.references, req.plainEnvNames, reference);
        return { secrets: injected.map(toResolved), injections: plan.targets, warnings: plan.warnings };
      },
      async whoAmI(_req, ctx) {
        // Nothing to authorize: a verified token may always learn what it proves.
        const { subject, org, role, expiresAt } = ctx.principal;
        return { subject, org, role, ...secretRightsOf(ctx.principal), expireTime: expiresAt === undefined ? undefined : new Date(expiresAt * 1000) };
      },
      async lookupSecretVersions(req, ctx) {
        requireService(ctx.principal, ['job-launcher'], 'look up secret versions');
        const v = new Violations()
          .org(req.org)
          .check(req.uids.length <= MAX_SECRETS_PER_LOOKUP, 'uids', `at most ${MAX_SECRETS_PER_LOOKUP} per call`)
          .check(new Set(req.uids).size === req.uids.length, 'uids', 'each uid at most once');
        req.uids.forEach((uid, i) => v.check(SECRET_UID_PATTERN.test(uid), `uids[${i}]`, 'is not a secret uid'));
        v.throwIfAny();
        return { versions: await secrets.versions(req.org, req.uids) };
      },
    },
    {
      verifier: deps.verifier,
      log: deps.log,
      tracker: deps.tracker,
      // Every denial is audited, never into another org's chain by an outsider (DESIGN §3).
      hooks: deps.audit.denials.hooks,
    },
  );
  return { definition: SecretServiceService, implementation, name: 'vessl.secrets.v1.SecretService' };
}

