import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { Secret_EnvVarFit } from '../services/gen/vessl/secrets/v1/secrets.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type JobClient, type KmsClient, type SecretClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import type { ExecWorkspaceRequest } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { execIn } from './support/workspace-exec.js';

interface Ctx {
  sys: TestSystem;
  secrets: SecretClient;
  kms: KmsClient;
  jobs: JobClient;
  /** The member's, who owns the running workspace RUNNING_WS. */
  workspaces: WorkspaceClient;
  /** A valid sealed value for org acme. */
  sealed: { sealedBox: Buffer; keyId: string };
  sealUnder(value: Uint8Array): Buffer;
}

interface Row {
  what: string;
  call(c: Ctx): Promise<unknown>;
  code: string;
  /** The field the error must name (in the BadRequest details and the message). */
  field?: string;
  /** What the message must say, when it must name more than a field. */
  message?: RegExp;
}

const long = (n: number, ch = 'a') => ch.repeat(n);
const create = (c: Ctx, secret: Record<string, string>, value: unknown = c.sealed) =>
  c.secrets.createSecret({ org: 'acme', secret, value: value as never });
const update = (c: Ctx, secret: Record<string, string>, updateMask: string[], value?: unknown) =>
  c.secrets.updateSecret({ org: 'acme', secret: { name: 'EXISTING', ...secret }, updateMask, value: value as never });

const toEncrypt = (c: Ctx, overrides: Record<string, unknown> = {}) => ({ org: 'acme', secretUid: `s_${randomBytes(8).toString('hex')}`, version: 1, ...c.sealed, ...overrides });
const encryptValues = async (c: Ctx, requests: ReturnType<typeof toEncrypt>[]) =>
  c.sys.kms(await c.sys.token('service', { subject: 'svc:secret-store' })).encryptSealedValues({ requests: requests as never });

const resolve = async (c: Ctx, req: Record<string, unknown>) =>
  c.sys.secrets(await c.sys.token('service', { subject: 'svc:job-launcher' })).resolveSecrets({ org: 'acme', ...req });
/** A launch given by references, as the job launcher asks for one (job and attempt set). */
const launchRefs = (c: Ctx, references: { secretName: string; envName?: string; filePath?: string }[], req: Record<string, unknown> = {}) =>
  resolve(c, { references: references.map((r) => ({ envName: '', filePath: '', ...r })), jobId: 'j_0123456789abcdef', attempt: 1, ...req });

/** A job asking for secrets as files (`--secret-file PATH=NAME`), each reference given in full. */
const jobWithFiles = (c: Ctx, secrets: { secretName: string; filePath: string; envName?: string }[]) =>
  c.jobs.createJob({ org: 'acme', job: { name: 'files', image: 'x', command: 'true', env: [], secrets: secrets.map((s) => ({ envName: '', ...s })) } });
const fileAt = (filePath: string, secretName = 'EXISTING') => ({ secretName, filePath });
/** A valid job but for `overrides`: its refusal must read as plain words (no flag, no regex). */
const jobWith = (c: Ctx, overrides: Record<string, unknown>) =>
  c.jobs.createJob({ org: 'acme', job: { name: 'plain', image: 'x', command: 'true', env: [], secrets: [], ...overrides } as never });

/** A valid workspace but for `overrides`. */
const workspaceWith = (c: Ctx, overrides: Record<string, unknown>) =>
  c.workspaces.createWorkspace({ org: 'acme', workspace: { name: 'ws-new', image: 'x', command: '', env: [], secrets: [], ...overrides } as never });
const RUNNING_WS = 'ws-running';
/** An ExecWorkspace call made of exactly these messages; resolves with the exit code, or fails. */
async function execMessages(c: Ctx, messages: ExecWorkspaceRequest['kind'][]): Promise<number> {
  const call = c.workspaces.execWorkspace({ timeoutMs: 20_000 });
  for (const kind of messages) call.write({ kind });
  call.end();
  let code = -1;
  for await (const m of call) if (m.kind?.$case === 'exit') code = m.kind.value.code;
  return code;
}
const start = (command: string[], extra: Record<string, unknown> = {}): ExecWorkspaceRequest['kind'] => ({ $case: 'start', value: { org: 'acme', name: RUNNING_WS, command, tty: false, ...extra } as never });

/** The audit chain's calls in key-management, as secret-store makes them. */
const asSecretStore = async (c: Ctx) => c.sys.kms(await c.sys.token('service', { subject: 'svc:secret-store' }));
/** An org no call here anchors (so a refused checkpoint is seen to write nothing). */
const CHAIN_ORG = 'bad-input-chain';
const bytes32 = () => randomBytes(32);
const linkEvents = async (c: Ctx, events: { seq: number; digest: Buffer; prevLink?: Buffer }[], org = CHAIN_ORG) =>
  (await asSecretStore(c)).linkAuditEvents({ org, events: events.map((e) => ({ prevLink: Buffer.alloc(0), ...e })) });
const firstCheckpoint = (overrides: Record<string, unknown> = {}) => ({
  org: CHAIN_ORG,
  fromSeq: 0,
  fromLink: Buffer.alloc(32),
  keyedFrom: 1,
  events: [{ seq: 1, digest: bytes32() }],
  link: bytes32(),
  ...overrides,
});
const checkpoint = async (c: Ctx, overrides: Record<string, unknown> = {}) => (await asSecretStore(c)).recordAuditCheckpoint(firstCheckpoint(overrides) as never);

const rows: Row[] = [
  // ---- CreateSecret: name
  { what: 'create: empty name', call: (c) => create(c, { name: '' }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'create: name starting with "-"', call: (c) => create(c, { name: '-token', key: 'K' }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'create: name with a space', call: (c) => create(c, { name: 'my token', key: 'K' }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'create: name with a slash', call: (c) => create(c, { name: 'a/b', key: 'K' }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'create: name of 129 characters', call: (c) => create(c, { name: long(129), key: 'K' }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'create: non-ASCII name', call: (c) => create(c, { name: 'ключ', key: 'K' }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'create: name taken by a live secret', call: (c) => create(c, { name: 'EXISTING' }), code: 'ALREADY_EXISTS' },
  // ---- key
  { what: 'create: key starting with a digit', call: (c) => create(c, { name: 'n1', key: '1ABC' }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'create: key with a dash', call: (c) => create(c, { name: 'n2', key: 'MY-KEY' }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'create: key of 257 characters', call: (c) => create(c, { name: 'n3', key: long(257, 'K') }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'create: key PATH (breaks every command of the job)', call: (c) => create(c, { name: 'n18', key: 'PATH' }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'create: key LD_PRELOAD (the loader runs its code)', call: (c) => create(c, { name: 'n19', key: 'LD_PRELOAD' }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'create: no key and the name NODE_OPTIONS (the default key is refused too)', call: (c) => create(c, { name: 'NODE_OPTIONS' }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'create: no key and a name that is no env var name', call: (c) => create(c, { name: 'hf.token' }), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  // ---- description
  { what: 'create: description of 1025 characters', call: (c) => create(c, { name: 'n4', description: long(1025) }), code: 'INVALID_ARGUMENT', field: 'secret.description' },
  { what: 'create: bad name and bad description together', call: (c) => create(c, { name: ' x', key: 'K', description: long(2000) }), code: 'INVALID_ARGUMENT', field: 'secret.description' },
  // ---- sealed value
  { what: 'create: no value', call: (c) => create(c, { name: 'n5' }, null), code: 'INVALID_ARGUMENT', field: 'value' },
  { what: 'create: empty sealed box', call: (c) => create(c, { name: 'n6' }, { ...c.sealed, sealedBox: Buffer.alloc(0) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: sealed box shorter than its overhead', call: (c) => create(c, { name: 'n7' }, { ...c.sealed, sealedBox: c.sealed.sealedBox.subarray(0, 40) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: truncated sealed box', call: (c) => create(c, { name: 'n8' }, { ...c.sealed, sealedBox: c.sealed.sealedBox.subarray(0, -1) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: garbage instead of a sealed box', call: (c) => create(c, { name: 'n9' }, { ...c.sealed, sealedBox: randomBytes(120) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: box sealed under another public key', call: (c) => create(c, { name: 'n10' }, { ...c.sealed, sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from('v'), sodium.crypto_box_keypair().publicKey)) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: a sealed empty value', call: (c) => create(c, { name: 'n11' }, { ...c.sealed, sealedBox: c.sealUnder(new Uint8Array(0)) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: a sealed value of 64 KiB + 1 byte', call: (c) => create(c, { name: 'n12' }, { ...c.sealed, sealedBox: c.sealUnder(new Uint8Array(64 * 1024 + 1).fill(65)) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: an oversized blob as sealed box', call: (c) => create(c, { name: 'n13' }, { ...c.sealed, sealedBox: randomBytes(200_000) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'create: empty key_id', call: (c) => create(c, { name: 'n14' }, { ...c.sealed, keyId: '' }), code: 'INVALID_ARGUMENT', field: 'value.key_id' },
  { what: 'create: malformed key_id', call: (c) => create(c, { name: 'n15' }, { ...c.sealed, keyId: 'no such/key' }), code: 'INVALID_ARGUMENT', field: 'value.key_id' },
  { what: 'create: unknown key_id (stale key)', call: (c) => create(c, { name: 'n16' }, { ...c.sealed, keyId: 'ok_unknownkey' }), code: 'FAILED_PRECONDITION' },
  { what: 'create: key_id of another org', call: async (c) => create(c, { name: 'n17' }, await c.sys.seal('v', 'other')), code: 'FAILED_PRECONDITION' },
  // ---- UpdateSecret: field masks and values
  { what: 'update: empty update_mask', call: (c) => update(c, {}, []), code: 'INVALID_ARGUMENT', field: 'update_mask' },
  { what: 'update: update_mask naming "name"', call: (c) => update(c, { name: 'EXISTING' }, ['name']), code: 'INVALID_ARGUMENT', field: 'update_mask' },
  { what: 'update: update_mask naming an unknown path', call: (c) => update(c, {}, ['bogus']), code: 'INVALID_ARGUMENT', field: 'update_mask' },
  { what: 'update: invalid new key', call: (c) => update(c, { key: 'not valid' }, ['key']), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'update: new key PYTHONPATH', call: (c) => update(c, { key: 'PYTHONPATH' }, ['key']), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'update: empty new key', call: (c) => update(c, { key: '' }, ['key']), code: 'INVALID_ARGUMENT', field: 'secret.key' },
  { what: 'update: description too long', call: (c) => update(c, { description: long(1025) }, ['description']), code: 'INVALID_ARGUMENT', field: 'secret.description' },
  { what: 'update: mask names value but none given', call: (c) => update(c, {}, ['value']), code: 'INVALID_ARGUMENT', field: 'value' },
  { what: 'update: value given but not in the mask', call: (c) => update(c, { description: 'd' }, ['description'], c.sealed), code: 'INVALID_ARGUMENT', field: 'value' },
  { what: 'update: garbage sealed box', call: (c) => update(c, {}, ['value'], { ...c.sealed, sealedBox: randomBytes(90) }), code: 'INVALID_ARGUMENT', field: 'value.sealed_box' },
  { what: 'update: stale key_id', call: (c) => update(c, {}, ['value'], { ...c.sealed, keyId: 'ok_gone' }), code: 'FAILED_PRECONDITION' },
  { what: 'update: invalid name', call: (c) => c.secrets.updateSecret({ org: 'acme', secret: { name: '' }, updateMask: ['description'] }), code: 'INVALID_ARGUMENT', field: 'secret.name' },
  { what: 'update: unknown secret', call: (c) => c.secrets.updateSecret({ org: 'acme', secret: { name: 'NOPE', description: 'x' }, updateMask: ['description'] }), code: 'NOT_FOUND' },
  // ---- Get / Delete
  { what: 'get: invalid name', call: (c) => c.secrets.getSecret({ org: 'acme', name: 'a b' }), code: 'INVALID_ARGUMENT', field: 'name' },
  { what: 'get: unknown secret', call: (c) => c.secrets.getSecret({ org: 'acme', name: 'NOPE' }), code: 'NOT_FOUND' },
  { what: 'delete: invalid name', call: (c) => c.secrets.deleteSecret({ org: 'acme', name: '' }), code: 'INVALID_ARGUMENT', field: 'name' },
  { what: 'delete: unknown secret', call: (c) => c.secrets.deleteSecret({ org: 'acme', name: 'NOPE' }), code: 'NOT_FOUND' },
  // ---- List: page size and tokens
  { what: 'list: negative page_size', call: (c) => c.secrets.listSecrets({ org: 'acme', pageSize: -1 }), code: 'INVALID_ARGUMENT', field: 'page_size' },
  { what: 'list: page_token with illegal characters', call: (c) => c.secrets.listSecrets({ org: 'acme', pageToken: '!!!' }), code: 'INVALID_ARGUMENT', field: 'page_token' },
  { what: 'list: page_token that is base64 of junk', call: (c) => c.secrets.listSecrets({ org: 'acme', pageToken: Buffer.from('{"v":9}').toString('base64url') }), code: 'INVALID_ARGUMENT', field: 'page_token' },
  { what: 'list: page_token from a listing without deleted rows', call: async (c) => {
      const first = await c.secrets.listSecrets({ org: 'acme', pageSize: 1 });
      return c.secrets.listSecrets({ org: 'acme', pageToken: first.nextPageToken, showDeleted: true });
    }, code: 'INVALID_ARGUMENT', field: 'page_token' },
  // ---- key-management
  { what: 'public key: invalid org name', call: async (c) => c.sys.kms(await c.sys.token('service')).getOrgPublicKey({ org: 'ACME!' }), code: 'INVALID_ARGUMENT', field: 'org' },
  // ---- the audit chain in key-management (secret-store's calls): links and checkpoints
  { what: 'link: invalid org', call: (c) => linkEvents(c, [{ seq: 1, digest: bytes32(), prevLink: Buffer.alloc(32) }], 'Not An Org'), code: 'INVALID_ARGUMENT', field: 'org' },
  { what: 'link: no events', call: (c) => linkEvents(c, []), code: 'INVALID_ARGUMENT', field: 'events' },
  { what: 'link: 1001 events', call: (c) => linkEvents(c, Array.from({ length: 1001 }, (_, i) => ({ seq: i + 1, digest: bytes32(), prevLink: Buffer.alloc(32) }))), code: 'INVALID_ARGUMENT', field: 'events' },
  { what: 'link: seq 0', call: (c) => linkEvents(c, [{ seq: 0, digest: bytes32(), prevLink: Buffer.alloc(32) }]), code: 'INVALID_ARGUMENT', field: 'events[0].seq' },
  { what: 'link: a 31-byte digest', call: (c) => linkEvents(c, [{ seq: 1, digest: randomBytes(31), prevLink: Buffer.alloc(32) }]), code: 'INVALID_ARGUMENT', field: 'events[0].digest' },
  { what: 'link: the first event without its prev link', call: (c) => linkEvents(c, [{ seq: 1, digest: bytes32() }]), code: 'INVALID_ARGUMENT', field: 'events[0].prev_link' },
  { what: 'link: a later prev link of 5 bytes', call: (c) => linkEvents(c, [{ seq: 1, digest: bytes32(), prevLink: Buffer.alloc(32) }, { seq: 2, digest: bytes32(), prevLink: randomBytes(5) }]), code: 'INVALID_ARGUMENT', field: 'events[1].prev_link' },
  { what: 'checkpoint: invalid org', call: (c) => checkpoint(c, { org: 'BAD ORG' }), code: 'INVALID_ARGUMENT', field: 'org' },
  { what: 'checkpoint: negative from_seq', call: (c) => checkpoint(c, { fromSeq: -1 }), code: 'INVALID_ARGUMENT', field: 'from_seq' },
  { what: 'checkpoint: a 31-byte from_link', call: (c) => checkpoint(c, { fromLink: randomBytes(31) }), code: 'INVALID_ARGUMENT', field: 'from_link' },
  { what: 'checkpoint: keyed_from 0', call: (c) => checkpoint(c, { keyedFrom: 0 }), code: 'INVALID_ARGUMENT', field: 'keyed_from' },
  { what: 'checkpoint: no link', call: (c) => checkpoint(c, { link: Buffer.alloc(0) }), code: 'INVALID_ARGUMENT', field: 'link' },
  { what: 'checkpoint: no events', call: (c) => checkpoint(c, { events: [] }), code: 'INVALID_ARGUMENT', field: 'events' },
  { what: 'checkpoint: events that skip a seq', call: (c) => checkpoint(c, { events: [{ seq: 1, digest: bytes32() }, { seq: 3, digest: bytes32() }] }), code: 'INVALID_ARGUMENT', field: 'events[1].seq' },
  { what: 'checkpoint: events that do not give the link held', call: (c) => checkpoint(c), code: 'FAILED_PRECONDITION' },
  { what: 'checkpoint: a first checkpoint not at the start of the keyed chain', call: (c) => checkpoint(c, { fromSeq: 3, events: [{ seq: 4, digest: bytes32() }] }), code: 'FAILED_PRECONDITION' },
  { what: 'checkpoint: a chain keyed from its start that does not begin at the genesis link', call: (c) => checkpoint(c, { fromLink: bytes32() }), code: 'FAILED_PRECONDITION' },
  { what: 'get checkpoint: invalid org', call: async (c) => (await asSecretStore(c)).getAuditCheckpoint({ org: '-x' }), code: 'INVALID_ARGUMENT', field: 'org' },
  // ---- EncryptSealedValues (secret-store's batch call): all or none, the failing value named
  { what: 'encrypt values: none', call: (c) => encryptValues(c, []), code: 'INVALID_ARGUMENT', field: 'requests' },
  { what: 'encrypt values: 501 values', call: (c) => encryptValues(c, Array.from({ length: 501 }, () => toEncrypt(c))), code: 'INVALID_ARGUMENT', field: 'requests' },
  { what: 'encrypt values: invalid org', call: (c) => encryptValues(c, [toEncrypt(c, { org: 'ACME!' })]), code: 'INVALID_ARGUMENT', field: 'requests[0].org' },
  { what: 'encrypt values: two orgs in one call', call: (c) => encryptValues(c, [toEncrypt(c), toEncrypt(c, { org: 'other' })]), code: 'INVALID_ARGUMENT', field: 'requests[1].org' },
  { what: 'encrypt values: malformed secret uid', call: (c) => encryptValues(c, [toEncrypt(c), toEncrypt(c, { secretUid: 'no/such uid' })]), code: 'INVALID_ARGUMENT', field: 'requests[1].secret_uid' },
  { what: 'encrypt values: version 0', call: (c) => encryptValues(c, [toEncrypt(c, { version: 0 })]), code: 'INVALID_ARGUMENT', field: 'requests[0].version' },
  { what: 'encrypt values: a truncated sealed box', call: (c) => encryptValues(c, [toEncrypt(c), toEncrypt(c, { sealedBox: c.sealed.sealedBox.subarray(0, 40) })]), code: 'INVALID_ARGUMENT', field: 'requests[1].sealed_box' },
  { what: 'encrypt values: garbage as the third box', call: (c) => encryptValues(c, [toEncrypt(c), toEncrypt(c), toEncrypt(c, { sealedBox: randomBytes(120) })]), code: 'INVALID_ARGUMENT', field: 'requests[2].sealed_box' },
  { what: 'encrypt values: a sealed empty value', call: (c) => encryptValues(c, [toEncrypt(c, { sealedBox: c.sealUnder(new Uint8Array(0)) })]), code: 'INVALID_ARGUMENT', field: 'requests[0].sealed_box' },
  { what: 'encrypt values: an unknown key_id', call: (c) => encryptValues(c, [toEncrypt(c), toEncrypt(c, { keyId: 'ok_unknownkey' })]), code: 'FAILED_PRECONDITION' },
  // ---- ResolveSecrets (the job launcher's call): by names, or a launch given by references
  { what: 'resolve: neither names nor references', call: (c) => resolve(c, {}), code: 'INVALID_ARGUMENT', field: 'names' },
  { what: 'resolve: a name given twice', call: (c) => resolve(c, { names: ['EXISTING', 'EXISTING'] }), code: 'INVALID_ARGUMENT', field: 'names' },
  { what: 'resolve: an invalid name', call: (c) => resolve(c, { names: ['EXISTING', 'a b'] }), code: 'INVALID_ARGUMENT', field: 'names[1]' },
  { what: 'resolve: an unknown name', call: (c) => resolve(c, { names: ['EXISTING', 'NOPE'], jobId: 'j_0123456789abcdef', attempt: 1 }), code: 'NOT_FOUND' },
  { what: 'resolve: plain variables without references', call: (c) => resolve(c, { names: ['EXISTING'], plainEnvNames: ['X'] }), code: 'INVALID_ARGUMENT', field: 'plain_env_names' },
  { what: 'resolve: names and references together', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }], { names: ['SECOND'] }), code: 'INVALID_ARGUMENT', field: 'names' },
  { what: 'resolve: references without a job', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }], { jobId: '' }), code: 'INVALID_ARGUMENT', field: 'job_id' },
  { what: 'resolve: a malformed job id', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }], { jobId: 'job 1' }), code: 'INVALID_ARGUMENT', field: 'job_id' },
  { what: 'resolve: 257 references', call: (c) => launchRefs(c, Array.from({ length: 257 }, () => ({ secretName: 'EXISTING' }))), code: 'INVALID_ARGUMENT', field: 'references' },
  { what: 'resolve: a reference to an invalid name', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }, { secretName: '' }]), code: 'INVALID_ARGUMENT', field: 'references[1].secret_name' },
  { what: 'resolve: a reference on an invalid variable', call: (c) => launchRefs(c, [{ secretName: 'EXISTING', envName: 'MY-VAR' }]), code: 'INVALID_ARGUMENT', field: 'references[0].env_name' },
  { what: 'resolve: an invalid plain variable name', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }], { plainEnvNames: ['1X'] }), code: 'INVALID_ARGUMENT', field: 'plain_env_names[0]' },
  { what: 'resolve: a reference to an unknown secret', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }, { secretName: 'NOPE' }]), code: 'NOT_FOUND' },
  { what: 'resolve: an unknown secret that a plain variable overrides', call: (c) => launchRefs(c, [{ secretName: 'NOPE', envName: 'X' }], { plainEnvNames: ['X'] }), code: 'NOT_FOUND' },
  { what: 'resolve: two secrets on one variable', call: (c) => launchRefs(c, [{ secretName: 'EXISTING', envName: 'X' }, { secretName: 'SECOND', envName: 'X' }]), code: 'INVALID_ARGUMENT', field: 'references' },
  { what: "resolve: a secret on another's key", call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }, { secretName: 'SECOND', envName: 'EXISTING' }]), code: 'INVALID_ARGUMENT', field: 'references' },
  // ---- a valid secret that no environment can carry, asked for as a variable (nothing audited)
  { what: 'resolve: a value with a NUL byte as a variable', call: (c) => launchRefs(c, [{ secretName: 'EXISTING' }, { secretName: 'WITH_NUL' }]), code: 'FAILED_PRECONDITION', message: /secret "WITH_NUL" cannot be injected as environment variable WITH_NUL: its value holds a NUL byte/ },
  { what: 'resolve: a value that is not UTF-8 under another variable name', call: (c) => launchRefs(c, [{ secretName: 'NOT_UTF8', envName: 'CERT' }]), code: 'FAILED_PRECONDITION', message: /secret "NOT_UTF8" cannot be injected as environment variable CERT: its value is not valid UTF-8/ },
  { what: 'resolve: a value with a NUL byte, launched by names', call: (c) => resolve(c, { names: ['EXISTING', 'WITH_NUL'], jobId: 'j_0123456789abcdef', attempt: 1 }), code: 'FAILED_PRECONDITION', message: /secret "WITH_NUL".*NUL byte/ },
  // ---- CreateJob: secrets as files (checked before any secret is read, audited or run)
  // ---- CreateJob's own fields: plain words, the same rules the console's form imports
  { what: 'job: no name', call: (c) => jobWith(c, { name: '' }), code: 'INVALID_ARGUMENT', field: 'job.name', message: /^job\.name: is required$/ },
  { what: 'job: a name with a space', call: (c) => jobWith(c, { name: 'my job' }), code: 'INVALID_ARGUMENT', field: 'job.name', message: /job\.name: must start with a letter or digit and hold only letters, digits, "\.", "_" and "-"$/ },
  { what: 'job: no image', call: (c) => jobWith(c, { image: '' }), code: 'INVALID_ARGUMENT', field: 'job.image', message: /^job\.image: is required$/ },
  { what: 'job: an image with a space', call: (c) => jobWith(c, { image: 'python 3' }), code: 'INVALID_ARGUMENT', field: 'job.image', message: /job\.image: must be an image reference such as python:3\.12, without spaces$/ },
  { what: 'job: no command', call: (c) => jobWith(c, { command: '' }), code: 'INVALID_ARGUMENT', field: 'job.command', message: /^job\.command: is required$/ },
  { what: 'job: a command of only spaces', call: (c) => jobWith(c, { command: '  ' }), code: 'INVALID_ARGUMENT', field: 'job.command', message: /job\.command: is only spaces: give the command to run$/ },
  { what: 'job: a command over 32 KiB', call: (c) => jobWith(c, { command: 'x'.repeat(32 * 1024 + 1) }), code: 'INVALID_ARGUMENT', field: 'job.command', message: /is 32769 bytes long; at most 32768 bytes \(32 KiB\) are allowed$/ },
  { what: 'job: a variable name starting with a digit', call: (c) => jobWith(c, { env: [{ name: '1X', value: 'v' }] }), code: 'INVALID_ARGUMENT', field: 'job.env[0].name', message: /must be an environment variable name: letters, digits and "_", not starting with a digit$/ },
  { what: 'job: a variable given twice', call: (c) => jobWith(c, { env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }), code: 'INVALID_ARGUMENT', field: 'job.env[1].name', message: /A is given twice: each variable once$/ },
  { what: 'job: a secret as a variable with a bad name', call: (c) => jobWith(c, { secrets: [{ secretName: 'EXISTING', envName: 'A-B' }] }), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].env_name', message: /must be an environment variable name/ },
  { what: 'job: a relative file path', call: (c) => jobWithFiles(c, [fileAt('run/secrets/key')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /not an absolute path/ },
  { what: 'job: a file path outside /run/secrets/ and HOME', call: (c) => jobWithFiles(c, [fileAt('/etc/cron.d/evil')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /not under \/run\/secrets\/ or \/home\/job\// },
  { what: 'job: a file path that climbs out with ..', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/../../etc/passwd')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /"\." or "\.\." segment/ },
  { what: 'job: a file path with a . segment', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/./key')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /"\." or "\.\." segment/ },
  { what: 'job: a file path with an empty segment', call: (c) => jobWithFiles(c, [fileAt('/run/secrets//key')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /empty segment/ },
  { what: 'job: a file path ending with /', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/dir/')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /empty segment/ },
  { what: 'job: a file path that is a root itself (HOME)', call: (c) => jobWithFiles(c, [fileAt('/home/job')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /not under/ },
  { what: 'job: a file path with a space', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/my key')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /may only hold letters, digits/ },
  { what: 'job: a file path with a newline', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/a\nb')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /a\\nb/ },
  { what: 'job: a file path with a segment starting with ..', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/..data')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /reserved/ },
  { what: 'job: a file path of 513 characters', call: (c) => jobWithFiles(c, [fileAt(`/run/secrets/${long(250)}/${long(249)}`)]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /longer than 512/ },
  { what: 'job: a file path segment of 256 characters', call: (c) => jobWithFiles(c, [fileAt(`/run/secrets/${long(256)}`)]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path', message: /longer than 255/ },
  { what: 'job: two secrets on one file path', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/key'), fileAt('/run/secrets/key', 'SECOND')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[1].file_path', message: /"\/run\/secrets\/key" is also the path of secret "EXISTING": one file per path$/ },
  { what: 'job: one file path inside another', call: (c) => jobWithFiles(c, [fileAt('/home/job/.ssh'), fileAt('/home/job/.ssh/id_ed25519', 'SECOND')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[1].file_path', message: /one inside the other/ },
  { what: 'job: a reference with both a variable and a file', call: (c) => jobWithFiles(c, [{ ...fileAt('/run/secrets/key'), envName: 'KEY' }]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].env_name', message: /must be empty when the secret goes to a file: a secret lands in a variable or in a file, not both$/ },
  { what: 'job: a bad file path of an unknown secret (the path is refused first)', call: (c) => jobWithFiles(c, [fileAt('relative', 'NOPE')]), code: 'INVALID_ARGUMENT', field: 'job.secrets[0].file_path' },
  { what: 'job: a good file path of an unknown secret', call: (c) => jobWithFiles(c, [fileAt('/run/secrets/key', 'NOPE')]), code: 'NOT_FOUND' },
  // ---- workspaces: the job's rules (the command may be empty: it idles), then the calls on one
  { what: 'workspace: no name', call: (c) => workspaceWith(c, { name: '' }), code: 'INVALID_ARGUMENT', field: 'workspace.name', message: /^workspace\.name: is required$/ },
  { what: 'workspace: a name with a slash', call: (c) => workspaceWith(c, { name: 'a/b' }), code: 'INVALID_ARGUMENT', field: 'workspace.name' },
  { what: 'workspace: no image', call: (c) => workspaceWith(c, { image: '' }), code: 'INVALID_ARGUMENT', field: 'workspace.image', message: /^workspace\.image: is required$/ },
  { what: 'workspace: a command of only spaces', call: (c) => workspaceWith(c, { command: '   ' }), code: 'INVALID_ARGUMENT', field: 'workspace.command', message: /is only spaces/ },
  { what: 'workspace: a command with a NUL byte', call: (c) => workspaceWith(c, { command: 'a\0b' }), code: 'INVALID_ARGUMENT', field: 'workspace.command', message: /NUL byte/ },
  { what: 'workspace: a variable given twice', call: (c) => workspaceWith(c, { env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }), code: 'INVALID_ARGUMENT', field: 'workspace.env[1].name' },
  { what: 'workspace: a secret as LD_PRELOAD', call: (c) => workspaceWith(c, { secrets: [{ secretName: 'EXISTING', envName: 'LD_PRELOAD', filePath: '' }] }), code: 'INVALID_ARGUMENT', field: 'workspace.secrets[0].env_name' },
  { what: 'workspace: a file path outside the roots', call: (c) => workspaceWith(c, { secrets: [{ secretName: 'EXISTING', envName: '', filePath: '/etc/profile.d/x.sh' }] }), code: 'INVALID_ARGUMENT', field: 'workspace.secrets[0].file_path', message: /not under/ },
  { what: 'workspace: a file path with ..', call: (c) => workspaceWith(c, { secrets: [{ secretName: 'EXISTING', envName: '', filePath: '/run/secrets/../x' }] }), code: 'INVALID_ARGUMENT', field: 'workspace.secrets[0].file_path' },
  { what: 'workspace: two secrets on one file', call: (c) => workspaceWith(c, { secrets: [fileAt('/run/secrets/k'), fileAt('/run/secrets/k', 'SECOND')].map((f) => ({ envName: '', ...f })) }), code: 'INVALID_ARGUMENT', field: 'workspace.secrets[1].file_path' },
  { what: 'workspace: an unknown secret', call: (c) => workspaceWith(c, { secrets: [{ secretName: 'NOPE', envName: '', filePath: '' }] }), code: 'NOT_FOUND', message: /"NOPE"/ },
  { what: 'workspace: a value no variable can carry', call: (c) => workspaceWith(c, { secrets: [{ secretName: 'WITH_NUL', envName: '', filePath: '' }] }), code: 'FAILED_PRECONDITION' },
  { what: 'workspace: a name already taken', call: (c) => workspaceWith(c, { name: RUNNING_WS }), code: 'ALREADY_EXISTS', message: /already exists/ },
  { what: 'get workspace: a bad name', call: (c) => c.workspaces.getWorkspace({ org: 'acme', name: 'a b' }), code: 'INVALID_ARGUMENT', field: 'name' },
  { what: 'get workspace: an unknown one', call: (c) => c.workspaces.getWorkspace({ org: 'acme', name: 'nope' }), code: 'NOT_FOUND', message: /workspace "nope" not found/ },
  { what: 'list workspaces: a negative page size', call: (c) => c.workspaces.listWorkspaces({ org: 'acme', pageSize: -1 }), code: 'INVALID_ARGUMENT', field: 'page_size' },
  { what: 'list workspaces: a bad secret name', call: (c) => c.workspaces.listWorkspaces({ org: 'acme', secretName: 'a b' }), code: 'INVALID_ARGUMENT', field: 'secret_name' },
  { what: 'list workspaces: a forged page token', call: (c) => c.workspaces.listWorkspaces({ org: 'acme', pageToken: 'forged' }), code: 'INVALID_ARGUMENT', field: 'page_token' },
  { what: 'stop workspace: an unknown one', call: (c) => c.workspaces.stopWorkspace({ org: 'acme', name: 'nope' }), code: 'NOT_FOUND' },
  { what: 'start workspace: one that runs', call: (c) => c.workspaces.startWorkspace({ org: 'acme', name: RUNNING_WS }), code: 'FAILED_PRECONDITION', message: /already running/ },
  { what: 'delete workspace: a bad name', call: (c) => c.workspaces.deleteWorkspace({ org: 'acme', name: '' }), code: 'INVALID_ARGUMENT', field: 'name' },
  { what: 'exec: the first message is not start', call: (c) => execMessages(c, [{ $case: 'stdin', value: Buffer.from('x') }]), code: 'INVALID_ARGUMENT', field: 'start' },
  { what: 'exec: no message at all', call: (c) => execMessages(c, []), code: 'INVALID_ARGUMENT', field: 'start' },
  { what: 'exec: an empty program name', call: (c) => execMessages(c, [start([''])]), code: 'INVALID_ARGUMENT', field: 'start.command[0]' },
  { what: 'exec: an argument with a NUL byte', call: (c) => execMessages(c, [start(['echo', 'a\0b'])]), code: 'INVALID_ARGUMENT', field: 'start.command[1]' },
  { what: 'exec: 257 arguments', call: (c) => execMessages(c, [start(Array.from({ length: 257 }, () => 'x'))]), code: 'INVALID_ARGUMENT', field: 'start.command' },
  { what: 'exec: a terminal of 0 rows', call: (c) => execMessages(c, [start([], { tty: true, size: { rows: 0, cols: 80 } })]), code: 'INVALID_ARGUMENT', field: 'start.size.rows' },
  { what: 'exec: a size without a terminal', call: (c) => execMessages(c, [start(['true'], { size: { rows: 24, cols: 80 } })]), code: 'INVALID_ARGUMENT', field: 'start.size' },
  { what: 'exec: a resize without a terminal', call: (c) => execMessages(c, [start(['cat']), { $case: 'resize', value: { rows: 30, cols: 100 } }]), code: 'INVALID_ARGUMENT', field: 'resize' },
  { what: 'exec: a second start', call: (c) => execMessages(c, [start(['cat']), start(['cat'])]), code: 'INVALID_ARGUMENT', field: 'start' },
  { what: 'exec: stdin after its end', call: (c) => execMessages(c, [start(['cat']), { $case: 'closeStdin', value: true }, { $case: 'stdin', value: Buffer.from('late') }]), code: 'INVALID_ARGUMENT', field: 'stdin' },
  { what: 'exec: a stdin message over 64 KiB', call: (c) => execMessages(c, [start(['cat']), { $case: 'stdin', value: Buffer.alloc(64 * 1024 + 1) }]), code: 'INVALID_ARGUMENT', field: 'stdin' },
  { what: 'exec: an unknown workspace', call: (c) => execIn(c.workspaces, { name: 'nope' }, ['true']), code: 'NOT_FOUND' },
  // ---- ResolveSecrets with files (the secret-store's own checks of the contract)
  { what: 'resolve: a relative file path', call: (c) => launchRefs(c, [{ secretName: 'EXISTING', filePath: 'key' }]), code: 'INVALID_ARGUMENT', field: 'references[0].file_path' },
  { what: 'resolve: a file path with ..', call: (c) => launchRefs(c, [{ secretName: 'EXISTING', filePath: '/run/../etc/passwd' }]), code: 'INVALID_ARGUMENT', field: 'references[0].file_path' },
  { what: 'resolve: a reference with both a variable and a file', call: (c) => launchRefs(c, [{ secretName: 'EXISTING', envName: 'K', filePath: '/run/secrets/k' }]), code: 'INVALID_ARGUMENT', field: 'references[0].env_name' },
  { what: 'resolve: two secrets in one file', call: (c) => launchRefs(c, [{ secretName: 'EXISTING', filePath: '/run/secrets/k' }, { secretName: 'SECOND', filePath: '/run/secrets/k' }]), code: 'INVALID_ARGUMENT', field: 'references', message: /"EXISTING" and "SECOND" both land in file \/run\/secrets\/k/ },
];

/** Everything a call could have written: secret rows (with their ciphertext) and the audit log. */
async function snapshot(sys: TestSystem) {
  const db = sys.db('secret-store');
  const secrets = await db('secrets').orderBy('uid').select('uid', 'name', 'key', 'description', 'version', 'ciphertext', 'deleted_at');
  const audit = await db('secret_audit_events').count({ n: '*' }).first();
  const kms = await sys.db('key-management')('kms_org_keys').select('key_id').orderBy('key_id');
  // Only the chain rows use (acme's own checkpoint moves by itself after its appends).
  const checkpoints = await sys.db('key-management')('kms_audit_checkpoints').where({ org: CHAIN_ORG }).select('seq', 'link');
  const jobs = await sys.db('job-launcher')('jobs').count({ n: '*' }).first();
  const workspaces = await sys.db('job-launcher')('workspaces').orderBy('id').select('id', 'name', 'state', 'run');
  return { secrets, audit: Number(audit?.n), kms, checkpoints, jobs: Number(jobs?.n), workspaces };
}

for (const engine of engines()) {
  describe(`bad input is refused with the right code and writes nothing (${engine.name})`, function () {
    const c = {} as Ctx;
    before(async () => {
      await sodium.ready;
      c.sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      c.secrets = c.sys.secrets(await c.sys.token('admin'));
      c.kms = c.sys.kms(await c.sys.token('admin'));
      c.jobs = c.sys.jobs(await c.sys.token('member'));
      c.workspaces = c.sys.workspaces(await c.sys.token('member'));
      c.sealed = await c.sys.seal('a valid value');
      const key = await c.kms.getOrgPublicKey({ org: 'acme' });
      c.sealUnder = (value) => Buffer.from(sodium.crypto_box_seal(value, key.publicKey));
      await c.secrets.createSecret({ org: 'acme', secret: { name: 'EXISTING' }, value: c.sealed });
      await c.secrets.createSecret({ org: 'acme', secret: { name: 'SECOND' }, value: c.sealed });
      // Valid secrets (a file could hold them), but no environment variable can.
      await c.secrets.createSecret({ org: 'acme', secret: { name: 'WITH_NUL' }, value: { keyId: c.sealed.keyId, sealedBox: c.sealUnder(Buffer.from('before\0after')) } });
      await c.secrets.createSecret({ org: 'acme', secret: { name: 'NOT_UTF8' }, value: { keyId: c.sealed.keyId, sealedBox: c.sealUnder(Buffer.from([0x30, 0x82, 0xff, 0xfe])) } });
      // The other org's key exists before the rows run, so creating it is not a row's write.
      await c.sys.seal('v', 'other');
      await c.workspaces.createWorkspace({ org: 'acme', workspace: { name: RUNNING_WS, image: 'x' } });
    });
    after(async () => {
      await c.sys?.stop();
      await engine.cleanup();
    });

    it('has at least 30 rows', () => expect(rows.length).to.be.at.least(30));

    it('keeps a value no environment can carry as a valid secret, its metadata saying why it cannot be a variable', async () => {
      const fits = await Promise.all(['EXISTING', 'WITH_NUL', 'NOT_UTF8'].map(async (name) => (await c.secrets.getSecret({ org: 'acme', name })).envVarFit));
      expect(fits).to.deep.equal([Secret_EnvVarFit.ENV_VAR_FIT_OK, Secret_EnvVarFit.ENV_VAR_FIT_NUL_BYTE, Secret_EnvVarFit.ENV_VAR_FIT_NOT_UTF8]);
    });

    for (const row of rows) {
      it(`${row.what} → ${row.code}${row.field ? ` naming ${row.field}` : ''}`, async () => {
        const before = await snapshot(c.sys);
        const got = await failure(row.call(c));
        expect(got.code, got.message).to.equal(row.code);
        if (row.field) {
          expect(got.fields, got.message).to.include(row.field);
          expect(got.message).to.include(row.field);
        }
        if (row.message) expect(got.message).to.match(row.message);
        expect(got.message).to.not.match(/internal|stack|sql|\bat \w+ \(/i);
        expect(await snapshot(c.sys)).to.deep.equal(before);
      });
    }
  });
}
