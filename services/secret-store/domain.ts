import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { SecretReference } from '../gen/vessl/secrets/v1/secrets.js';
import { unfitVariableError } from '../runtime/env-var-fit.js';
import { aborted, alreadyExists, failedPrecondition, notFound } from '../runtime/errors.js';
import { MAX_ATTEMPT_SECRET_BYTES } from '../runtime/sealed-value.js';
import type { AuditEvent } from './audit.js';
import { GroupCommit, type Queued } from './group-commit.js';
import { landingOf, planInjection, type InjectionPlan } from './injection.js';
import { ListPageCache, type ListPage } from './list-cache.js';
import { NameTakenError, type EncryptedValue, type ListQuery, type SecretRow, type SecretStore } from './store.js';

export interface SealedValue {
  sealedBox: Buffer;
  keyId: string;
}

/** One value to encrypt for one secret version. */
export interface ValueToEncrypt {
  org: string;
  secretUid: string;
  version: number;
  sealedBox: Buffer;
  keyId: string;
}

/** Opens sealed values and encrypts them for their secret versions (key-management's job). */
export interface ValueEncryptor {
  /** One value; its error is its own. */
  one(req: ValueToEncrypt, requestId: string): Promise<EncryptedValue>;
  /** Values of one org in one call, all or none (the first failure fails the call). */
  many(reqs: ValueToEncrypt[], requestId: string): Promise<EncryptedValue[]>;
}

export interface Actor {
  subject: string;
  requestId: string;
}

/** Who launches which job attempt with the secrets being resolved. */
export interface JobReference {
  /** A job (j_...) or a workspace (w_...). */
  jobId: string;
  /** The job's attempt, or the workspace's run. */
  attempt: number;
  /** A running workspace's file refreshed to the current value. */
  refresh?: boolean;
  onBehalfOf: string;
  caller: string;
  requestId: string;
}

export interface SecretChanges {
  key?: string;
  description?: string;
  value?: SealedValue;
}

const MAX_UPDATE_ATTEMPTS = 3;
/** Values encrypted at once one by one (to find which values of a failed call fail). */
const ENCRYPT_CONCURRENCY = 8;
/** Values per EncryptSealedValues call, and their sealed bytes (a call must stay under 1 MiB). */
const ENCRYPT_CALL_VALUES = 128;
const ENCRYPT_CALL_BYTES = 256 * 1024;
/** Single creates of one org written in one transaction at most (group commit). */
const CREATE_GROUP_SIZE = 128;
/** Group-commit batches of one org in flight at once: one encrypts while another writes. */
const CREATE_GROUPS_IN_FLIGHT = 2;

export interface NewSecret {
  fields: { name: string; key: string; description: string };
  value: SealedValue;
}

/** The failure of one item of a batch, so the caller can name it (requests[i]...). */
export class BatchItemError extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`item ${index} failed`);
  }
}

/** Maps items with at most `limit` in flight, keeping their order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A value that failed to encrypt, with why. */
class EncryptFailure {
  constructor(readonly cause: unknown) {}
}

/** key-management's answers about a value itself: the value is to blame, not the call. */
const isValueFailure = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return code === status.INVALID_ARGUMENT || code === status.FAILED_PRECONDITION;
};

/** Version 1 of a new secret, created by `actor` at `at`. */
const newRow = (org: string, uid: string, fields: NewSecret['fields'], value: EncryptedValue, actor: Actor, at: number): SecretRow => ({
  uid,
  org,
  ...fields,
  version: 1,
  value,
  createdAt: at,
  createdBy: actor.subject,
  updatedAt: at,
  updatedBy: actor.subject,
  valueUpdatedAt: at,
});

export const newSecretUid = () => `s_${randomBytes(15).toString('base64url')}`;

const secretNotFound = (org: string, name: string) =>
  notFound(`secret "${name}" not found in org "${org}"`, 'SECRET_NOT_FOUND');

type QueuedCreate = Queued<NewSecret & { actor: Actor }, SecretRow>;

/** secret-store's logic. Never sees a plaintext value: only sealed boxes and ciphertext. */
export class SecretManager {
  private readonly creates = new GroupCommit((org: string, batch: QueuedCreate[]) => this.createGroup(org, batch), {
    maxBatch: CREATE_GROUP_SIZE,
    concurrentBatches: CREATE_GROUPS_IN_FLIGHT,
  });

  private readonly listPages = new ListPageCache();

  constructor(
    private readonly store: SecretStore,
    private readonly encryptor: ValueEncryptor,
    private readonly now: () => number = Date.now,
  ) {}

  private event(org: string, actor: Actor, action: AuditEvent['action'], row: SecretRow, details: AuditEvent['details'] = {}): AuditEvent {
    return {
      org,
      time: this.now(),
      actor: actor.subject,
      action,
      secretName: row.name,
      secretUid: row.uid,
      secretVersion: row.version,
      requestId: actor.requestId,
      details,
    };
  }

  private created(actor: Actor, row: SecretRow): AuditEvent {
    return this.event(row.org, actor, 'secret.created', row, { key: row.key, fingerprint: row.value?.fingerprint ?? '' });
  }

  /**
   * Creates one secret. Creates of one org that arrive together share a transaction (group
   * commit), but each succeeds or fails on its own, as if they had run one after another.
   */
  async create(org: string, fields: NewSecret['fields'], value: SealedValue, actor: Actor): Promise<SecretRow> {
    return this.creates.submit(org, { fields, value, actor });
  }

  /** One group of independent creates: names first, then every value, then one transaction. */
  private async createGroup(org: string, group: QueuedCreate[]): Promise<void> {
    const taken = new Set((await this.store.getLiveMany(org, [...new Set(group.map((c) => c.input.fields.name))])).map((r) => r.name));
    const named: QueuedCreate[] = [];
    for (const create of group) {
      const { name } = create.input.fields;
      // A name repeated in the group is taken by its first create, as it would be in sequence.
      if (taken.has(name)) create.reject(this.nameTaken(org, [name]));
      else {
        taken.add(name);
        named.push(create);
      }
    }
    const at = this.now();
    const uids = named.map(() => newSecretUid());
    const values = await this.encryptEach(
      named.map((c, i) => ({ org, secretUid: uids[i], version: 1, ...c.input.value })),
      named[0]?.input.actor.requestId ?? '',
    );
    const encrypted = named.map((create, i) => {
      const value = values[i];
      if (value instanceof EncryptFailure) {
        create.reject(value.cause);
        return undefined;
      }
      return { create, row: newRow(org, uids[i], create.input.fields, value, create.input.actor, at) };
    });
    let ready = encrypted.filter((e) => e !== undefined);
    while (ready.length > 0) {
      try {
        await this.store.insertMany(
          ready.map((r) => r.row),
          ready.map(({ create, row }) => this.created(create.input.actor, row)),
        );
        for (const { create, row } of ready) create.resolve(row);
        return;
      } catch (err) {
        // Another writer (a batch, a replica) took a name meanwhile: only those creates lose.
        if (!(err instanceof NameTakenError) || err.names.length === 0) throw err;
        const lost = new Set(err.names);
        for (const r of ready) if (lost.has(r.row.name)) r.create.reject(this.nameTaken(org, [r.row.name]));
        ready = ready.filter((r) => !lost.has(r.row.name));
      }
    }
  }

  /**
   * Creates secrets all or none: names are checked first, every value is encrypted (each
   * under its own data key), then all rows and their audit events go in one transaction.
   * A failure of one item is a BatchItemError carrying its index.
   */
  async createMany(org: string, items: NewSecret[], actor: Actor): Promise<SecretRow[]> {
    const taken = await this.store.getLiveMany(org, items.map((i) => i.fields.name));
    if (taken.length > 0) throw this.nameTaken(org, taken.map((t) => t.name));
    const at = this.now();
    const uids = items.map(() => newSecretUid());
    const values = await this.encryptEach(
      items.map((item, i) => ({ org, secretUid: uids[i], version: 1, ...item.value })),
      actor.requestId,
    );
    const rows = items.map((item, index): SecretRow => {
      const value = values[index];
      if (value instanceof EncryptFailure) throw new BatchItemError(index, value.cause);
      return newRow(org, uids[index], item.fields, value, actor, at);
    });
    try {
      await this.store.insertMany(rows, rows.map((row) => this.created(actor, row)));
    } catch (err) {
      if (err instanceof NameTakenError) throw this.nameTaken(org, err.names);
      throw err;
    }
    return rows;
  }

  /**
   * Encrypts values of one org in as few calls as fit in a message. When a call fails for
   * a value's sake (a bad box, a stale key), its values are tried one by one, so each gets
   * its own outcome; any other failure (key-management unavailable) is every value's.
   */
  private async encryptEach(values: ValueToEncrypt[], requestId: string): Promise<(EncryptedValue | EncryptFailure)[]> {
    const chunks: ValueToEncrypt[][] = [];
    let bytes = Infinity;
    for (const value of values) {
      if (bytes + value.sealedBox.length > ENCRYPT_CALL_BYTES || chunks[chunks.length - 1].length >= ENCRYPT_CALL_VALUES) {
        chunks.push([]);
        bytes = 0;
      }
      chunks[chunks.length - 1].push(value);
      bytes += value.sealedBox.length;
    }
    const results = await Promise.all(
      chunks.map(async (chunk) => {
        try {
          const encrypted = await this.encryptor.many(chunk, requestId);
          if (encrypted.length !== chunk.length) throw new Error(`key-management encrypted ${encrypted.length} of ${chunk.length} values`);
          return encrypted;
        } catch (err) {
          if (!isValueFailure(err)) return chunk.map(() => new EncryptFailure(err));
          return mapLimited(chunk, ENCRYPT_CONCURRENCY, (value) => this.encryptor.one(value, requestId).catch((e: unknown) => new EncryptFailure(e)));
        }
      }),
    );
    return results.flat();
  }

  private nameTaken(org: string, names: string[]) {
    const quoted = names.map((n) => `"${n}"`).join(', ');
    const what = names.length === 1 ? `secret ${quoted} already exists` : `secrets ${quoted} already exist`;
    return alreadyExists(`${what} in org "${org}"; update it, or delete it first`);
  }

  /** A page of the org's secrets (metadata only), reused while the org's audit chain has not moved. */
  async list(query: ListQuery): Promise<ListPage> {
    // The sequence number first: the page read after it is then never older than it.
    const seq = await this.store.auditSeq(query.org);
    const key = JSON.stringify([query.org, query.showDeleted, query.limit, query.after?.name ?? null, query.after?.uid ?? null]);
    const cached = this.listPages.get(key, seq);
    if (cached) return cached;
    const page = await readListPage(this.store, query);
    this.listPages.set(key, seq, page);
    return page;
  }

  async get(org: string, name: string): Promise<SecretRow> {
    const row = await this.store.getLive(org, name);
    if (!row) throw secretNotFound(org, name);
    return row;
  }

  /**
   * Applies the changes to the live secret. A value rotation is encrypted for version+1;
   * if another writer got there first the whole step is redone on the fresh row.
   */
  async update(org: string, name: string, changes: SecretChanges, actor: Actor): Promise<SecretRow> {
    for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
      const current = await this.get(org, name);
      const next = await this.applyChanges(current, changes, actor);
      if (next) return next;
    }
    throw aborted(`secret "${name}" kept changing concurrently; retry the update`);
  }

  private async applyChanges(current: SecretRow, changes: SecretChanges, actor: Actor): Promise<SecretRow | undefined> {
    const org = current.org;
    const at = this.now();
    const next: SecretRow = { ...current, updatedAt: at, updatedBy: actor.subject };
    const audit: AuditEvent[] = [];
    if (changes.key !== undefined && changes.key !== current.key) {
      next.key = changes.key;
      audit.push(this.event(org, actor, 'secret.key_renamed', next, { from: current.key, to: changes.key }));
    }
    if (changes.description !== undefined && changes.description !== current.description) {
      next.description = changes.description;
      audit.push(this.event(org, actor, 'secret.description_edited', next));
    }
    if (changes.value) {
      next.version = current.version + 1;
      next.value = await this.encryptor.one({ org, secretUid: current.uid, version: next.version, ...changes.value }, actor.requestId);
      next.valueUpdatedAt = at;
      // Fingerprints tell whether the rotation really changed the value, without showing either.
      const fingerprints = { fingerprint: next.value.fingerprint ?? '', previousFingerprint: current.value?.fingerprint ?? '' };
      audit.push(this.event(org, actor, 'secret.value_rotated', next, { previousVersion: current.version, ...fingerprints }));
    }
    if (audit.length === 0) return current; // nothing changes: no write, no event
    // The audit records "from" values as read: the update applies only if they still hold.
    const applied = await this.store.update(
      current.uid,
      { version: current.version, key: current.key, description: current.description },
      {
        key: next.key === current.key ? undefined : next.key,
        description: next.description === current.description ? undefined : next.description,
        value: changes.value ? next.value : undefined,
        version: next.version,
        updatedAt: at,
        updatedBy: actor.subject,
      },
      audit,
    );
    return applied ? next : undefined;
  }

  async delete(org: string, name: string, actor: Actor): Promise<SecretRow> {
    const current = await this.get(org, name);
    const at = this.now();
    const deleted: SecretRow = { ...current, value: undefined, deletedAt: at, deletedBy: actor.subject, updatedAt: at, updatedBy: actor.subject };
    const done = await this.store.softDelete(current.uid, at, actor.subject, [this.event(org, actor, 'secret.deleted', deleted)]);
    if (!done) throw secretNotFound(org, name);
    return deleted;
  }

  /**
   * The ciphertext of live secrets for one launch, in the order asked; NOT_FOUND names the
   * first missing. Each reference is audited with the version handed out: no audit, no launch.
   */
  async resolve(org: string, names: string[], reference: JobReference): Promise<SecretRow[]> {
    const resolved = await this.liveForLaunch(org, names);
    // A launch by names (job set) injects each under its key.
    if (reference.jobId) {
      refuseUnfitVariables(resolved.map((row) => ({ row, envName: row.key })));
      refuseOversizedAttempt(resolved);
    }
    await this.auditReferences(org, resolved, reference);
    return resolved;
  }

  /**
   * A launch in one call: every referenced secret must be live (NOT_FOUND names the first
   * missing); where each lands is planned by DESIGN §5's rules (a conflict is
   * INVALID_ARGUMENT on `references`, before anything is written); only the secrets injected
   * are audited and handed out, each once.
   */
  async resolveForLaunch(org: string, refs: SecretReference[], plainEnvNames: string[], reference: JobReference): Promise<{ secrets: SecretRow[]; plan: InjectionPlan }> {
    const rows = await this.liveForLaunch(org, [...new Set(refs.map((r) => r.secretName))]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    const plan = planInjection(refs, plainEnvNames, (name) => byName.get(name)!.key, 'references');
    const secrets = [...new Set(plan.targets.map((t) => t.secretName))].map((name) => byName.get(name)!);
    // A file holds any bytes; only a variable must fit an environment.
    refuseUnfitVariables(plan.targets.filter((t) => !t.filePath).map((t) => ({ row: byName.get(t.secretName)!, envName: t.envName })));
    refuseOversizedAttempt(secrets);
    await this.auditReferences(org, secrets, reference, (row) => plan.targets.filter((t) => t.secretName === row.name).map(landingOf).join(', '));
    return { secrets, plan };
  }

  /** The live secrets of these names, in their order; NOT_FOUND names the first missing. */
  private async liveForLaunch(org: string, names: string[]): Promise<SecretRow[]> {
    const rows = await this.store.getLiveMany(org, names);
    const byName = new Map(rows.map((r) => [r.name, r]));
    return names.map((name) => {
      const row = byName.get(name);
      if (!row?.value) throw notFound(`secret "${name}" not found in org "${org}" (unknown or deleted)`, 'SECRET_NOT_FOUND');
      return row;
    });
  }

  /**
   * One secret.referenced event per secret handed out to a job attempt (none without a job),
   * saying where it lands ("env HF_TOKEN", "file /run/secrets/gcp.json") when the plan is known.
   */
  private async auditReferences(org: string, rows: SecretRow[], reference: JobReference, landing?: (row: SecretRow) => string): Promise<void> {
    if (!reference.jobId || rows.length === 0) return;
    const actor = { subject: reference.onBehalfOf || reference.caller, requestId: reference.requestId };
    const runner: Record<string, string | number> = reference.jobId.startsWith('w_') ? { workspace: reference.jobId, run: reference.attempt } : { job: reference.jobId, attempt: reference.attempt };
    const details = { ...runner, via: reference.caller, ...(reference.refresh ? { refresh: true } : {}) };
    const eventOf = (row: SecretRow) => this.event(org, actor, 'secret.referenced', row, { ...details, fingerprint: row.value?.fingerprint ?? '', ...(landing ? { as: landing(row) } : {}) });
    await this.store.appendAudit(rows.map(eventOf));
  }

  async versions(org: string, uids: string[]) {
    return this.store.versionsByUid(org, uids);
  }
}

/**
 * A launch that asks for a value as an environment variable that no environment can carry
 * (a NUL byte, not UTF-8) is refused before anything is audited: nothing is recorded for a
 * launch that does not happen. Values stored before key-management recorded this are
 * checked by the job launcher once decrypted.
 */
function refuseUnfitVariables(targets: { row: SecretRow; envName: string }[]): void {
  for (const { row, envName } of targets) {
    const fit = row.value?.envVarFit;
    if (fit === undefined || fit === 'ok') continue;
    throw unfitVariableError(row.name, envName, fit);
  }
}

/**
 * An attempt gets at most MAX_ATTEMPT_SECRET_BYTES of values together (counted as stored:
 * each a few bytes over its plaintext), refused before anything is audited.
 */
function refuseOversizedAttempt(rows: SecretRow[]): void {
  const bytes = rows.reduce((sum, row) => sum + (row.value?.ciphertext.length ?? 0), 0);
  if (bytes <= MAX_ATTEMPT_SECRET_BYTES) return;
  throw failedPrecondition(
    `the ${rows.length} secrets this attempt would get hold ${Math.ceil(bytes / 1024)} KiB together; an attempt can get at most ${MAX_ATTEMPT_SECRET_BYTES / 1024} KiB of secret values`,
    'ATTEMPT_SECRETS_TOO_LARGE',
  );
}

/** A page of a listing, straight from the store: one row more than asked tells whether more follow. */
async function readListPage(store: Pick<SecretStore, 'list'>, query: ListQuery): Promise<ListPage> {
  const rows = await store.list({ ...query, limit: query.limit + 1 });
  if (rows.length <= query.limit) return { rows };
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return { rows: page, next: { name: last.name, uid: last.uid } };
}
