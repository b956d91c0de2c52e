import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { checkpointMessage } from '../services/runtime/audit-link.js';
import { Client, credentials, Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { KeyManagementServiceService, MasterKey_State, OrgKey_State, type EncryptedValue } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService, Secret_State, type Secret } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken, type Role, type TokenSettings } from '../services/runtime/auth.js';
import type { ServiceClient } from '../services/runtime/grpc-client.js';
import { completeRequest } from '../services/runtime/request-messages.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type JobClient, type KmsClient, type SecretClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import { until } from './support/until.js';
import { JobServiceService, Job_State, type Job } from '../services/gen/vessl/jobs/v1/jobs.js';
import { WorkspaceServiceService, Workspace_State, type Workspace } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { execIn, sh } from './support/workspace-exec.js';

// DESIGN §3 as one table: every RPC × every principal. Access logic does not depend on the
// storage engine, so the table runs on the embedded SQLite default only; the limits at the
// end (issue 17) run on both engines.

const ORG = 'acme';
const OTHER_ORG = 'globex';
const EXISTING = 'EXISTING';
const EXISTING_VALUE = 'existing-value';
const ADMIN_SUBJECT = 'ada@acme';
const MEMBER_SUBJECT = 'mia@acme';

// ---- principals --------------------------------------------------------------------------

type PrincipalName =
  | 'admin'
  | 'member'
  | 'operator'
  | 'other-org admin'
  | 'svc:secret-store'
  | 'svc:job-launcher'
  | 'svc:key-management'
  | 'svc:intruder'
  | 'no token'
  | 'expired token'
  | 'token signed by another key'
  | 'unsigned token (alg none)'
  | 'token with wrong audience'
  | 'token with wrong issuer'
  | 'token living past the maximum (exp in 5138)'
  | 'garbage token';

interface TokenKit {
  sys: TestSystem;
  /** The embedded issuer's key: tokens it signs are genuine unless their claims are off. */
  issuerKey: CryptoKey;
  /** A well-formed Ed25519 key the server has never seen. */
  strangerKey: CryptoKey;
}

interface PrincipalSpec {
  name: PrincipalName;
  /** undefined: the call carries no authorization header at all. */
  token(kit: TokenKit): Promise<string | undefined>;
}

/** Claims of an acme admin, so a token the server wrongly accepted would visibly succeed. */
const adminClaims = (settings: TokenSettings = EMBEDDED_TOKEN_SETTINGS) =>
  ({ role: 'admin' as Role, org: ORG, subject: ADMIN_SUBJECT, ttlSeconds: 600, settings });

function unsignedToken(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    sub: ADMIN_SUBJECT,
    org: ORG,
    role: 'admin',
    iss: EMBEDDED_TOKEN_SETTINGS.issuer,
    aud: EMBEDDED_TOKEN_SETTINGS.audience,
    iat: now,
    exp: now + 600,
  };
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

const PRINCIPALS: PrincipalSpec[] = [
  { name: 'admin', token: ({ sys }) => sys.token('admin', { org: ORG, subject: ADMIN_SUBJECT }) },
  { name: 'member', token: ({ sys }) => sys.token('member', { org: ORG, subject: MEMBER_SUBJECT }) },
  { name: 'operator', token: ({ sys }) => sys.token('operator', { org: ORG, subject: 'otto@acme' }) },
  { name: 'other-org admin', token: ({ sys }) => sys.token('admin', { org: OTHER_ORG, subject: 'gus@globex' }) },
  { name: 'svc:secret-store', token: ({ sys }) => sys.token('service', { subject: 'svc:secret-store' }) },
  { name: 'svc:job-launcher', token: ({ sys }) => sys.token('service', { subject: 'svc:job-launcher' }) },
  { name: 'svc:key-management', token: ({ sys }) => sys.token('service', { subject: 'svc:key-management' }) },
  { name: 'svc:intruder', token: ({ sys }) => sys.token('service', { subject: 'svc:intruder' }) },
  { name: 'no token', token: async () => undefined },
  { name: 'expired token', token: ({ sys }) => sys.token('admin', { org: ORG, subject: ADMIN_SUBJECT, ttlSeconds: -60 }) },
  { name: 'token signed by another key', token: ({ strangerKey }) => mintToken(strangerKey, adminClaims()) },
  { name: 'unsigned token (alg none)', token: async () => unsignedToken() },
  {
    name: 'token with wrong audience',
    token: ({ issuerKey }) => mintToken(issuerKey, adminClaims({ ...EMBEDDED_TOKEN_SETTINGS, audience: 'some-other-api' })),
  },
  {
    name: 'token with wrong issuer',
    token: ({ issuerKey }) => mintToken(issuerKey, adminClaims({ ...EMBEDDED_TOKEN_SETTINGS, issuer: 'https://evil.example' })),
  },
  {
    // Genuinely signed by the embedded issuer, as a leaked key or a careless issuer would.
    name: 'token living past the maximum (exp in 5138)',
    token: ({ issuerKey }) =>
      new SignJWT({ org: ORG, role: 'admin' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
        .setSubject(ADMIN_SUBJECT)
        .setIssuer(EMBEDDED_TOKEN_SETTINGS.issuer)
        .setAudience(EMBEDDED_TOKEN_SETTINGS.audience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.parse('5138-01-01T00:00:00Z') / 1000))
        .sign(issuerKey),
  },
  { name: 'garbage token', token: async () => 'not-a-jwt' },
];

/** Principals whose token the server must refuse to authenticate at all. */
const UNAUTHENTICATED_PRINCIPALS: readonly PrincipalName[] = [
  'no token',
  'expired token',
  'token signed by another key',
  'unsigned token (alg none)',
  'token with wrong audience',
  'token with wrong issuer',
  'token living past the maximum (exp in 5138)',
  'garbage token',
];

// ---- RPCs ----------------------------------------------------------------------------------

type RpcName =
  | 'CreateSecret'
  | 'BatchCreateSecrets'
  | 'GetSecret'
  | 'ListSecrets'
  | 'UpdateSecret'
  | 'DeleteSecret'
  | 'ResolveSecrets'
  | 'GetOrgPublicKey'
  | 'EncryptSealedValue'
  | 'EncryptSealedValues'
  | 'DecryptForInjection'
  | 'LookupSecretVersions'
  | 'RotateOrgKey'
  | 'ListOrgKeys'
  | 'RetireOrgKey'
  | 'FingerprintSealedValue'
  | 'LinkAuditEvents'
  | 'RecordAuditCheckpoint'
  | 'GetAuditCheckpoint'
  | 'VerifySecretValue'
  | 'ListAuditEvents'
  | 'VerifyAuditLog'
  | 'RecordAuditEvent'
  | 'ListMasterKeys'
  | 'RotateMasterKey'
  | 'RetireMasterKey'
  | 'RewrapDataKeys'
  | 'RewrapOrgKeys'
  | 'RewrapSecrets'
  | 'CountDataKeys'
  | 'CreateJob'
  | 'GetJob'
  | 'ListJobs'
  | 'StreamJobLogs'
  | 'RestartJob'
  | 'TerminateJob'
  | 'CreateWorkspace'
  | 'GetWorkspace'
  | 'ListWorkspaces'
  | 'StopWorkspace'
  | 'StartWorkspace'
  | 'DeleteWorkspace'
  | 'ExecWorkspace'
  | 'WhoAmI';

/** The callers allowed each RPC; every other authenticated caller gets PERMISSION_DENIED. */
const ALLOWED: Record<RpcName, readonly PrincipalName[]> = {
  CreateSecret: ['admin'],
  BatchCreateSecrets: ['admin'],
  GetSecret: ['admin', 'member'],
  ListSecrets: ['admin', 'member'],
  UpdateSecret: ['admin'],
  DeleteSecret: ['admin'],
  ResolveSecrets: ['svc:job-launcher'],
  GetOrgPublicKey: ['admin', 'member', 'svc:secret-store', 'svc:job-launcher', 'svc:key-management', 'svc:intruder'],
  EncryptSealedValue: ['svc:secret-store'],
  EncryptSealedValues: ['svc:secret-store'],
  DecryptForInjection: ['svc:job-launcher'],
  LookupSecretVersions: ['svc:job-launcher'],
  RotateOrgKey: ['admin'],
  ListOrgKeys: ['admin'],
  RetireOrgKey: ['admin'],
  FingerprintSealedValue: ['svc:secret-store'],
  // The audit chain's links and checkpoints: the secret store, which owns the chain.
  LinkAuditEvents: ['svc:secret-store'],
  RecordAuditCheckpoint: ['svc:secret-store'],
  GetAuditCheckpoint: ['svc:secret-store'],
  VerifySecretValue: ['admin'],
  // Operators are platform-wide: they read any org's audit log (DESIGN §3).
  ListAuditEvents: ['admin', 'operator'],
  VerifyAuditLog: ['admin', 'operator'],
  RecordAuditEvent: ['svc:key-management'],
  ListMasterKeys: ['operator'],
  RotateMasterKey: ['operator'],
  RetireMasterKey: ['operator'],
  RewrapDataKeys: ['svc:secret-store'],
  RewrapOrgKeys: ['svc:secret-store'],
  RewrapSecrets: ['operator'],
  CountDataKeys: ['svc:key-management'],
  CreateJob: ['admin', 'member'],
  GetJob: ['admin', 'member'],
  ListJobs: ['admin', 'member'],
  StreamJobLogs: ['admin', 'member'],
  RestartJob: ['admin', 'member'],
  TerminateJob: ['admin', 'member'],
  // The workspace these act on is the member's: an admin sees, stops and deletes it, but only
  // its owner starts it or runs commands in it.
  CreateWorkspace: ['admin', 'member'],
  GetWorkspace: ['admin', 'member'],
  ListWorkspaces: ['admin', 'member'],
  StopWorkspace: ['admin', 'member'],
  StartWorkspace: ['member'],
  DeleteWorkspace: ['admin', 'member'],
  ExecWorkspace: ['member'],
  // Every verified token may learn what it proves (the web console's login asks).
  WhoAmI: ['admin', 'member', 'operator', 'other-org admin', 'svc:secret-store', 'svc:job-launcher', 'svc:key-management', 'svc:intruder'],
};

type Outcome = 'OK' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED';

function expectedOutcome(rpc: RpcName, principal: PrincipalName): Outcome {
  if (UNAUTHENTICATED_PRINCIPALS.includes(principal)) return 'UNAUTHENTICATED';
  return ALLOWED[rpc].includes(principal) ? 'OK' : 'PERMISSION_DENIED';
}

interface Caller {
  secrets: SecretClient;
  kms: KmsClient;
  jobs: JobClient;
  workspaces: WorkspaceClient;
}

/** What every case can build its request from; prepared once, as the acme admin. */
interface Fixtures {
  sys: TestSystem;
  admin: SecretClient;
  existing: Secret;
  sealed: { sealedBox: Buffer; keyId: string };
  /** EXISTING's at-rest form, as ResolveSecrets hands it to the job launcher. */
  stored: EncryptedValue;
  /** A name no secret has had yet. */
  uniqueName(prefix: string): string;
  /** Creates a live secret of its own for a case that changes or deletes it. */
  freshSecret(): Promise<string>;
  /** A finished job (using EXISTING) that logs and restarts can act on. */
  doneJob: Job;
  /** Starts a long-running job of its own for a case that restarts or terminates it. */
  runningJob(): Promise<Job>;
  /** The member's running workspace (with EXISTING as a variable) that reads and exec act on. */
  memberWorkspace: Workspace;
  /** A workspace of the member's own, running or stopped, for a case that changes it. */
  freshWorkspace(state: 'running' | 'stopped'): Promise<Workspace>;
}

interface RpcSpec {
  name: RpcName;
  /** A request that succeeds for an allowed caller, so a refusal can only be about access. */
  prepare(fx: Fixtures): Promise<unknown>;
  call(caller: Caller, request: unknown): Promise<unknown>;
  expectSuccess(response: unknown, request: unknown, fx: Fixtures): void | Promise<void>;
  /** For writes: a refused call leaves no trace in the data. */
  expectNoEffect?(request: unknown, fx: Fixtures): Promise<void>;
}

function rpc<Req, Res>(spec: {
  name: RpcName;
  prepare(fx: Fixtures): Promise<Req>;
  call(caller: Caller, request: Req): Promise<Res>;
  expectSuccess(response: Res, request: Req, fx: Fixtures): void | Promise<void>;
  expectNoEffect?(request: Req, fx: Fixtures): Promise<void>;
}): RpcSpec {
  return spec as unknown as RpcSpec;
}

const liveSecret = (fx: Fixtures, name: string) =>
  fx.sys.db('secret-store')('secrets').where({ org: ORG, name }).whereNull('deleted_at').first();

const primaryOrgKeyId = async (fx: Fixtures): Promise<string> =>
  (await fx.sys.db('key-management')('kms_org_keys').where({ org: ORG, state: 'primary' }).first()).key_id;

const RPCS: RpcSpec[] = [
  rpc({
    name: 'CreateSecret',
    prepare: async (fx) => ({ org: ORG, secret: { name: fx.uniqueName('CREATED'), key: 'CREATED_KEY' }, value: fx.sealed }),
    call: (c, req) => c.secrets.createSecret(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ org: ORG, name: req.secret.name, version: 1, createBy: ADMIN_SUBJECT });
    },
    expectNoEffect: async (req, fx) => {
      expect(await fx.sys.db('secret-store')('secrets').where({ org: ORG, name: req.secret.name })).to.have.length(0);
    },
  }),
  rpc({
    name: 'BatchCreateSecrets',
    prepare: async (fx) => ({
      org: ORG,
      requests: [
        { secret: { name: fx.uniqueName('BATCH'), key: 'B1' }, value: fx.sealed },
        { secret: { name: fx.uniqueName('BATCH'), key: 'B2' }, value: fx.sealed },
      ],
    }),
    call: (c, req) => c.secrets.batchCreateSecrets(req),
    expectSuccess: (res, req) => {
      expect(res.secrets.map((s) => s.name)).to.deep.equal(req.requests.map((r) => r.secret.name));
    },
    expectNoEffect: async (req, fx) => {
      const names = req.requests.map((r) => r.secret.name);
      expect(await fx.sys.db('secret-store')('secrets').where({ org: ORG }).whereIn('name', names)).to.have.length(0);
    },
  }),
  rpc({
    name: 'GetSecret',
    prepare: async () => ({ org: ORG, name: EXISTING }),
    call: (c, req) => c.secrets.getSecret(req),
    expectSuccess: (res, _req, fx) => {
      expect(res).to.include({ name: EXISTING, uid: fx.existing.uid, state: Secret_State.STATE_ACTIVE });
    },
  }),
  rpc({
    name: 'ListSecrets',
    prepare: async () => ({ org: ORG }),
    call: (c, req) => c.secrets.listSecrets(req),
    expectSuccess: (res) => {
      expect(res.secrets.map((s) => s.name)).to.include(EXISTING);
    },
  }),
  rpc({
    name: 'UpdateSecret',
    prepare: async (fx) => ({
      org: ORG,
      secret: { name: await fx.freshSecret(), description: 'edited' },
      updateMask: ['description'],
    }),
    call: (c, req) => c.secrets.updateSecret(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ name: req.secret.name, description: 'edited', updateBy: ADMIN_SUBJECT });
    },
    expectNoEffect: async (req, fx) => {
      expect((await liveSecret(fx, req.secret.name)).description).to.equal('fresh');
    },
  }),
  rpc({
    name: 'DeleteSecret',
    prepare: async (fx) => ({ org: ORG, name: await fx.freshSecret() }),
    call: (c, req) => c.secrets.deleteSecret(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ name: req.name, state: Secret_State.STATE_DELETED, deleteBy: ADMIN_SUBJECT });
      expect(res.deleteTime).to.be.instanceOf(Date);
    },
    expectNoEffect: async (req, fx) => {
      expect(await liveSecret(fx, req.name)).to.not.equal(undefined);
    },
  }),
  rpc({
    name: 'ResolveSecrets',
    prepare: async () => ({ org: ORG, names: [EXISTING] }),
    call: (c, req) => c.secrets.resolveSecrets(req),
    expectSuccess: (res, _req, fx) => {
      expect(res.secrets).to.have.length(1);
      expect(res.secrets[0]).to.include({ name: EXISTING, uid: fx.existing.uid, version: 1 });
      expect(res.secrets[0].ciphertext.length).to.be.greaterThan(0);
    },
  }),
  rpc({
    name: 'GetOrgPublicKey',
    prepare: async () => ({ org: ORG }),
    call: (c, req) => c.kms.getOrgPublicKey(req),
    expectSuccess: (res, _req, fx) => {
      expect(res).to.include({ org: ORG, keyId: fx.sealed.keyId });
      expect(res.publicKey).to.have.length(32);
    },
  }),
  rpc({
    name: 'EncryptSealedValue',
    prepare: async (fx) => ({ org: ORG, secretUid: fx.uniqueName('s_matrix'), version: 1, ...fx.sealed }),
    call: (c, req) => c.kms.encryptSealedValue(req),
    expectSuccess: (res) => {
      expect(res.ciphertext.length).to.be.greaterThan(0);
      expect(res.wrappedDek.length).to.be.greaterThan(0);
      expect(res.kekVersion).to.be.at.least(1);
    },
  }),
  rpc({
    name: 'EncryptSealedValues',
    prepare: async (fx) => ({ requests: [{ org: ORG, secretUid: fx.uniqueName('s_matrix'), version: 1, ...fx.sealed }] }),
    call: (c, req) => c.kms.encryptSealedValues(req),
    expectSuccess: (res) => {
      expect(res.values).to.have.length(1);
      expect(res.values[0].ciphertext.length).to.be.greaterThan(0);
    },
  }),
  rpc({
    name: 'DecryptForInjection',
    prepare: async (fx) => ({ org: ORG, values: [fx.stored] }),
    call: (c, req) => c.kms.decryptForInjection(req),
    expectSuccess: (res) => {
      expect(res.values.map((v) => v.toString())).to.deep.equal([EXISTING_VALUE]);
    },
  }),
  rpc({
    name: 'LookupSecretVersions',
    prepare: async (fx) => ({ org: ORG, uids: [fx.existing.uid] }),
    call: (c, req) => c.secrets.lookupSecretVersions(req),
    expectSuccess: (res, _req, fx) => {
      expect(res.versions).to.deep.equal([{ uid: fx.existing.uid, name: EXISTING, version: 1, deleted: false }]);
    },
  }),
  rpc({
    name: 'RotateOrgKey',
    prepare: async (fx) => ({ org: ORG, primaryBefore: await primaryOrgKeyId(fx) }),
    call: (c, req) => c.kms.rotateOrgKey({ org: req.org }),
    expectSuccess: async (res, req, fx) => {
      expect(res).to.include({ org: ORG, state: OrgKey_State.STATE_PRIMARY });
      expect(res.keyId).to.not.equal(req.primaryBefore);
      expect(await primaryOrgKeyId(fx)).to.equal(res.keyId);
    },
    expectNoEffect: async (req, fx) => {
      expect(await primaryOrgKeyId(fx)).to.equal(req.primaryBefore);
    },
  }),
  rpc({
    name: 'ListOrgKeys',
    prepare: async () => ({ org: ORG }),
    call: (c, req) => c.kms.listOrgKeys(req),
    expectSuccess: (res, _req, fx) => {
      expect(res.keys[0].state).to.equal(OrgKey_State.STATE_PRIMARY);
      expect(res.keys.map((k) => k.keyId)).to.include(fx.sealed.keyId);
    },
  }),
  rpc({
    name: 'RetireOrgKey',
    // Two rotations as the admin: the key they demote was never used to seal anything.
    prepare: async (fx) => {
      const kms = fx.sys.kms(await fx.sys.token('admin', { org: ORG, subject: ADMIN_SUBJECT }));
      const demoted = await kms.rotateOrgKey({ org: ORG });
      await kms.rotateOrgKey({ org: ORG });
      return { org: ORG, keyId: demoted.keyId };
    },
    call: (c, req) => c.kms.retireOrgKey(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ keyId: req.keyId, state: OrgKey_State.STATE_RETIRED });
    },
    expectNoEffect: async (req, fx) => {
      expect((await fx.sys.db('key-management')('kms_org_keys').where({ key_id: req.keyId }).first()).state).to.equal('previous');
    },
  }),
  rpc({
    name: 'FingerprintSealedValue',
    prepare: async (fx) => ({ org: ORG, ...fx.sealed }),
    call: (c, req) => c.kms.fingerprintSealedValue(req),
    expectSuccess: async (res, _req, fx) => {
      const stored = await fx.admin.getSecret({ org: ORG, name: await fx.freshSecret() });
      expect(res.fingerprint.toString('hex')).to.equal(stored.valueFingerprint).and.to.have.length(64);
    },
  }),
  rpc({
    name: 'VerifySecretValue',
    prepare: async (fx) => ({ org: ORG, name: EXISTING, value: await fx.sys.seal(EXISTING_VALUE, ORG) }),
    call: (c, req) => c.secrets.verifySecretValue(req),
    expectSuccess: (res) => {
      expect(res).to.deep.equal({ matches: true, version: 1 });
    },
    expectNoEffect: async (_req, fx) => {
      const checks = await fx.sys.db('secret-store')('secret_audit_events').where({ org: ORG, action: 'secret.verified' });
      expect(checks.map((e: { actor: string }) => e.actor)).to.satisfy((actors: string[]) => actors.every((a) => a === ADMIN_SUBJECT));
    },
  }),
  rpc({
    name: 'ListAuditEvents',
    prepare: async () => ({ org: ORG, action: 'secret.created', secretName: EXISTING }),
    call: (c, req) => c.secrets.listAuditEvents(req),
    expectSuccess: (res, _req, fx) => {
      expect(res.events.map((e) => [e.action, e.secretUid])).to.deep.equal([['secret.created', fx.existing.uid]]);
    },
  }),
  rpc({
    name: 'VerifyAuditLog',
    prepare: async () => ({ org: ORG }),
    call: (c, req) => c.secrets.verifyAuditLog(req),
    expectSuccess: (res) => {
      expect(res).to.include({ intact: true, firstBadSeq: 0, problem: '' });
      expect(res.events).to.be.greaterThan(0);
    },
  }),
  rpc({
    name: 'RecordAuditEvent',
    prepare: async (fx) => ({ org: ORG, actor: 'otto@acme', action: 'org_key.rotated', details: { key_id: fx.uniqueName('k') } }),
    call: (c, req) => c.secrets.recordAuditEvent(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ org: ORG, actor: 'otto@acme', action: 'org_key.rotated' });
      expect(res.details).to.deep.equal(req.details);
    },
    expectNoEffect: async (req, fx) => {
      const recorded = await fx.sys.db('secret-store')('secret_audit_events').where({ org: ORG, action: 'org_key.rotated' }).pluck('details');
      expect(recorded.map((d: string) => JSON.parse(d).key_id)).to.not.include(req.details.key_id);
    },
  }),
  rpc({
    name: 'LinkAuditEvents',
    prepare: async () => ({ org: ORG, events: [{ seq: 1, digest: randomBytes(32), prevLink: Buffer.alloc(32) }] }),
    call: (c, req) => c.kms.linkAuditEvents(req),
    expectSuccess: (res) => {
      expect(res.links.map((l) => l.length)).to.deep.equal([32]);
    },
  }),
  rpc({
    name: 'RecordAuditCheckpoint',
    // The first checkpoint of an org of its own, whose one event is linked as secret-store would.
    prepare: async (fx) => {
      const org = fx.uniqueName('anchor').replace('_', '-');
      const digest = randomBytes(32);
      const asStore = fx.sys.kms(await fx.sys.token('service', { subject: 'svc:secret-store' }));
      const [link] = (await asStore.linkAuditEvents({ org, events: [{ seq: 1, digest, prevLink: Buffer.alloc(32) }] })).links;
      return { org, fromSeq: 0, fromLink: Buffer.alloc(32), keyedFrom: 1, events: [{ seq: 1, digest }], link };
    },
    call: (c, req) => c.kms.recordAuditCheckpoint(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ org: req.org, seq: 1, keyedFrom: 1 });
      expect(res.link.equals(req.link)).to.equal(true);
      expect(sodium.crypto_sign_verify_detached(res.signature, checkpointMessage({ ...res, time: res.time!.getTime() }), res.publicKey)).to.equal(true);
    },
    expectNoEffect: async (req, fx) => {
      expect(await fx.sys.db('key-management')('kms_audit_checkpoints').where({ org: req.org })).to.deep.equal([]);
    },
  }),
  rpc({
    name: 'GetAuditCheckpoint',
    // Verifying anchors the org's chain first, so a checkpoint exists.
    prepare: async (fx) => {
      await fx.admin.verifyAuditLog({ org: ORG });
      return { org: ORG };
    },
    call: (c, req) => c.kms.getAuditCheckpoint(req),
    expectSuccess: (res) => {
      expect(res.org).to.equal(ORG);
      expect(res.seq).to.be.greaterThan(0);
      expect(sodium.crypto_sign_verify_detached(res.signature, checkpointMessage({ ...res, time: res.time!.getTime() }), res.publicKey)).to.equal(true);
    },
  }),
  rpc({
    name: 'CreateJob',
    prepare: async (fx) => ({ org: ORG, job: { name: fx.uniqueName('job'), image: 'x', command: 'true', secrets: [{ secretName: EXISTING }] } }),
    call: (c, req) => c.jobs.createJob(req),
    expectSuccess: (res, req) => {
      expect(res.job).to.include({ org: ORG, name: req.job.name });
      expect(res.job!.attempts[0].secrets[0]).to.include({ secretName: EXISTING, version: 1 });
    },
    expectNoEffect: async (req, fx) => {
      const jobs = await fx.sys.db('job-launcher')('jobs').where({ org: ORG, name: req.job.name });
      expect(jobs).to.have.length(0);
    },
  }),
  rpc({
    name: 'GetJob',
    prepare: async (fx) => ({ org: ORG, id: fx.doneJob.id }),
    call: (c, req) => c.jobs.getJob(req),
    expectSuccess: (res, _req, fx) => {
      expect(res).to.include({ id: fx.doneJob.id, org: ORG });
    },
  }),
  rpc({
    name: 'ListJobs',
    prepare: async () => ({ org: ORG }),
    call: (c, req) => c.jobs.listJobs(req),
    expectSuccess: (res, _req, fx) => {
      expect(res.jobs.map((j) => j.id)).to.include(fx.doneJob.id);
    },
  }),
  rpc({
    name: 'StreamJobLogs',
    prepare: async (fx) => ({ org: ORG, id: fx.doneJob.id }),
    call: async (c, req) => {
      const chunks: Buffer[] = [];
      for await (const m of c.jobs.streamJobLogs(req)) chunks.push(m.data);
      return Buffer.concat(chunks).toString();
    },
    expectSuccess: (log) => {
      expect(log).to.equal('matrix job ***\n');
    },
  }),
  rpc({
    name: 'RestartJob',
    prepare: async (fx) => ({ org: ORG, id: (await fx.runningJob()).id }),
    call: (c, req) => c.jobs.restartJob(req),
    expectSuccess: (res) => {
      expect(res.job!.attempts).to.have.length(2);
    },
    expectNoEffect: async (req, fx) => {
      expect(await fx.sys.db('job-launcher')('job_attempts').where({ job_id: req.id })).to.have.length(1);
    },
  }),
  rpc({
    name: 'TerminateJob',
    prepare: async (fx) => ({ org: ORG, id: (await fx.runningJob()).id }),
    call: (c, req) => c.jobs.terminateJob(req),
    expectSuccess: (res) => {
      expect(res.state).to.equal(Job_State.STATE_CANCELLED);
    },
    expectNoEffect: async (req, fx) => {
      const [attempt] = await fx.sys.db('job-launcher')('job_attempts').where({ job_id: req.id });
      expect(attempt.state).to.equal('RUNNING');
    },
  }),
  rpc({
    name: 'CreateWorkspace',
    prepare: async (fx) => ({ org: ORG, workspace: { name: fx.uniqueName('ws'), image: 'x', secrets: [{ secretName: EXISTING }] } }),
    call: (c, req) => c.workspaces.createWorkspace(req),
    expectSuccess: (res, req) => {
      expect(res.workspace).to.include({ org: ORG, name: req.workspace.name, run: 1 });
      expect(res.workspace!.injected[0]).to.include({ secretName: EXISTING, version: 1 });
    },
    expectNoEffect: async (req, fx) => {
      expect(await fx.sys.db('job-launcher')('workspaces').where({ org: ORG, name: req.workspace.name })).to.have.length(0);
    },
  }),
  rpc({
    name: 'GetWorkspace',
    prepare: async (fx) => ({ org: ORG, name: fx.memberWorkspace.name }),
    call: (c, req) => c.workspaces.getWorkspace(req),
    expectSuccess: (res, _req, fx) => {
      expect(res).to.include({ id: fx.memberWorkspace.id, createBy: MEMBER_SUBJECT });
    },
  }),
  rpc({
    name: 'ListWorkspaces',
    prepare: async () => ({ org: ORG }),
    call: (c, req) => c.workspaces.listWorkspaces(req),
    expectSuccess: (res, _req, fx) => {
      expect(res.workspaces.map((w) => w.id)).to.include(fx.memberWorkspace.id);
    },
  }),
  rpc({
    name: 'StopWorkspace',
    prepare: async (fx) => ({ org: ORG, name: (await fx.freshWorkspace('running')).name }),
    call: (c, req) => c.workspaces.stopWorkspace(req),
    expectSuccess: (res) => {
      expect(res.state).to.equal(Workspace_State.STATE_STOPPED);
    },
    expectNoEffect: async (req, fx) => {
      const [row] = await fx.sys.db('job-launcher')('workspaces').where({ org: ORG, name: req.name });
      expect(row.state).to.equal('RUNNING');
    },
  }),
  rpc({
    name: 'StartWorkspace',
    prepare: async (fx) => ({ org: ORG, name: (await fx.freshWorkspace('stopped')).name }),
    call: (c, req) => c.workspaces.startWorkspace(req),
    expectSuccess: (res) => {
      expect(res.workspace).to.include({ run: 2 });
    },
    expectNoEffect: async (req, fx) => {
      const [row] = await fx.sys.db('job-launcher')('workspaces').where({ org: ORG, name: req.name });
      expect(row).to.include({ state: 'STOPPED', run: 1 });
    },
  }),
  rpc({
    name: 'DeleteWorkspace',
    prepare: async (fx) => ({ org: ORG, name: (await fx.freshWorkspace('running')).name }),
    call: (c, req) => c.workspaces.deleteWorkspace(req),
    expectSuccess: async (_res, req, fx) => {
      expect(await fx.sys.db('job-launcher')('workspaces').where({ org: ORG, name: req.name })).to.have.length(0);
    },
    expectNoEffect: async (req, fx) => {
      const [row] = await fx.sys.db('job-launcher')('workspaces').where({ org: ORG, name: req.name });
      expect(row.state).to.equal('RUNNING');
    },
  }),
  rpc({
    name: 'ExecWorkspace',
    prepare: async (fx) => ({ name: fx.memberWorkspace.name }),
    call: (c, req) => execIn(c.workspaces, { org: ORG, name: req.name }, sh('echo "matrix workspace $EXISTING"')),
    expectSuccess: (res) => {
      expect(res).to.include({ stdout: 'matrix workspace ***\n', code: 0 });
    },
  }),
  rpc({
    name: 'ListMasterKeys',
    prepare: async () => ({}),
    call: (c, req) => c.kms.listMasterKeys(req),
    expectSuccess: (res) => {
      expect(res.keys.filter((k) => k.primary)).to.have.length(1);
    },
  }),
  rpc({
    name: 'RotateMasterKey',
    prepare: async (fx) => ({ versionsBefore: (await masterKeys(fx)).length }),
    call: (c, req) => c.kms.rotateMasterKey(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ primary: true, version: req.versionsBefore + 1 });
    },
    expectNoEffect: async (req, fx) => {
      expect(await masterKeys(fx)).to.have.length(req.versionsBefore);
    },
  }),
  rpc({
    name: 'RetireMasterKey',
    // A version nothing references any more: rotate, then rewrap everything off the old one.
    prepare: async (fx) => {
      const operator = await fx.sys.token('operator');
      const rotated = await fx.sys.kms(operator).rotateMasterKey({});
      for await (const _ of fx.sys.secrets(operator).rewrapSecrets({})) void _;
      return { version: rotated.version - 1 };
    },
    call: (c, req) => c.kms.retireMasterKey(req),
    expectSuccess: (res, req) => {
      expect(res).to.include({ version: req.version, state: MasterKey_State.STATE_DESTROYED });
    },
    expectNoEffect: async (req, fx) => {
      expect((await masterKeys(fx)).find((k) => k.version === req.version)!.state).to.equal(MasterKey_State.STATE_ENABLED);
    },
  }),
  rpc({
    name: 'RewrapDataKeys',
    prepare: async (fx) => {
      const row = await fx.sys.db('secret-store')('secrets').where({ uid: fx.existing.uid }).first();
      return { keys: [{ org: ORG, secretUid: row.uid, version: Number(row.version), wrappedDek: row.wrapped_dek }] };
    },
    call: (c, req) => c.kms.rewrapDataKeys(req),
    expectSuccess: (res) => {
      expect(res.wrappedDeks).to.have.length(1);
      expect(res.kekVersion).to.be.at.least(1);
    },
  }),
  rpc({
    name: 'RewrapOrgKeys',
    prepare: async () => ({}),
    call: (c, req) => c.kms.rewrapOrgKeys(req),
    expectSuccess: (res) => {
      expect(res.kekVersion).to.be.at.least(1);
    },
  }),
  rpc({
    name: 'RewrapSecrets',
    prepare: async () => ({ batchSize: 100 }),
    call: async (c, req) => {
      const progress = [];
      for await (const p of c.secrets.rewrapSecrets(req)) progress.push(p);
      return progress;
    },
    expectSuccess: (progress) => {
      expect(progress.at(-1)).to.include({ done: true });
    },
  }),
  rpc({
    name: 'CountDataKeys',
    prepare: async () => ({}),
    call: (c, req) => c.secrets.countDataKeys(req),
    expectSuccess: (res) => {
      expect(res.counts.reduce((n, c) => n + c.dataKeys, 0)).to.be.greaterThan(0);
    },
  }),
  rpc({
    name: 'WhoAmI',
    prepare: async () => ({}),
    call: (c, req) => c.secrets.whoAmI(req),
    // Each caller gets its own verified identity, and the secret rights the handlers enforce.
    expectSuccess: (res) => {
      const expected: Record<string, object> = {
        [ADMIN_SUBJECT]: { org: ORG, role: 'admin', canReadSecrets: true, canManageSecrets: true },
        [MEMBER_SUBJECT]: { org: ORG, role: 'member', canReadSecrets: true, canManageSecrets: false },
        'otto@acme': { org: ORG, role: 'operator', canReadSecrets: false, canManageSecrets: false },
        'gus@globex': { org: OTHER_ORG, role: 'admin', canReadSecrets: true, canManageSecrets: true },
      };
      const service = { org: '', role: 'service', canReadSecrets: false, canManageSecrets: false };
      const { expireTime, ...identity } = res;
      expect(identity).to.deep.equal({ subject: res.subject, ...(expected[res.subject] ?? (res.subject.startsWith('svc:') ? service : { unknown: res.subject })) });
      expect(expireTime!.getTime()).to.be.greaterThan(Date.now());
    },
  }),
];

async function masterKeys(fx: Fixtures) {
  return (await fx.sys.kms(await fx.sys.token('operator')).listMasterKeys({})).keys;
}

// ---- plumbing --------------------------------------------------------------------------------

/** A client that sends no authorization header at all (the system's clients always send one). */
function tokenlessClient<D extends ServiceDefinition>(definition: D, endpoint: string): ServiceClient<D> {
  const channel = new Client(endpoint, credentials.createInsecure());
  const client: Record<string, unknown> = { close: () => channel.close() };
  for (const [key, method] of Object.entries(definition)) {
    if (method.requestStream) {
      client[key] = () => tokenlessBidi(channel, method);
      continue;
    }
    if (method.responseStream) {
      client[key] = (request: unknown) =>
        channel.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, completeRequest(method.path, request), new Metadata(), {
          deadline: Date.now() + 10_000,
        });
      continue;
    }
    client[key] = (request: unknown) =>
      new Promise((resolve, reject) => {
        channel.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          completeRequest(method.path, request),
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (err, response) => (err ? reject(err) : resolve(response)),
        );
      });
  }
  return client as ServiceClient<D>;
}

/** A bidirectional call with no authorization header, shaped as the system clients' BidiCall. */
function tokenlessBidi(channel: Client, method: ServiceDefinition[string]) {
  const call = channel.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new Metadata(), { deadline: Date.now() + 10_000 });
  return {
    write: (message: unknown) => call.write(completeRequest(method.path, message)),
    end: () => call.end(),
    cancel: () => call.cancel(),
    [Symbol.asyncIterator]: () => (call as AsyncIterable<unknown>)[Symbol.asyncIterator](),
  };
}

describe('access matrix (DESIGN §3)', function () {
  let sys: TestSystem;
  let fx: Fixtures;
  const callers = new Map<PrincipalName, Caller>();
  const tokenless: { close(): void }[] = [];

  before(async () => {
    sys = await startTestSystem();
    const kit: TokenKit = {
      sys,
      issuerKey: (await loadIssuerKeys(sys.dataDir, false)).privateKey,
      strangerKey: (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey,
    };
    for (const p of PRINCIPALS) {
      const token = await p.token(kit);
      if (token === undefined) {
        const caller = {
          secrets: tokenlessClient(SecretServiceService, sys.endpoint),
          kms: tokenlessClient(KeyManagementServiceService, sys.endpoint),
          jobs: tokenlessClient(JobServiceService, sys.endpoint),
          workspaces: tokenlessClient(WorkspaceServiceService, sys.endpoint),
        };
        tokenless.push(caller.secrets, caller.kms, caller.jobs, caller.workspaces);
        callers.set(p.name, caller);
      } else {
        callers.set(p.name, { secrets: sys.secrets(token), kms: sys.kms(token), jobs: sys.jobs(token), workspaces: sys.workspaces(token) });
      }
    }

    const admin = callers.get('admin')!.secrets;
    const existing = await admin.createSecret({ org: ORG, secret: { name: EXISTING }, value: await sys.seal(EXISTING_VALUE) });
    const resolved = await callers.get('svc:job-launcher')!.secrets.resolveSecrets({ org: ORG, names: [EXISTING] });
    const { uid: secretUid, version, ciphertext, wrappedDek, kekVersion } = resolved.secrets[0];
    const sealed = await sys.seal('matrix-value');
    let counter = 0;
    const uniqueName = (prefix: string) => `${prefix}_${++counter}`;
    const adminJobs = callers.get('admin')!.jobs;
    const created = await adminJobs.createJob({ org: ORG, job: { name: 'matrix', image: 'x', command: 'echo "matrix job $EXISTING"', secrets: [{ secretName: EXISTING }] } });
    let doneJob = created.job!;
    for (let i = 0; i < 200 && doneJob.state !== Job_State.STATE_SUCCEEDED; i++) {
      await new Promise((r) => setTimeout(r, 50));
      doneJob = await adminJobs.getJob({ org: ORG, id: doneJob.id });
    }
    const memberWorkspaces = callers.get('member')!.workspaces;
    const memberWorkspace = (await memberWorkspaces.createWorkspace({ org: ORG, workspace: { name: 'matrix-ws', image: 'x', secrets: [{ secretName: EXISTING }] } })).workspace!;
    fx = {
      sys,
      admin,
      existing,
      sealed,
      stored: { secretUid, version, ciphertext, wrappedDek, kekVersion },
      uniqueName,
      async freshSecret() {
        const name = uniqueName('FRESH');
        await admin.createSecret({ org: ORG, secret: { name, description: 'fresh' }, value: sealed });
        return name;
      },
      doneJob,
      async runningJob() {
        const { job } = await adminJobs.createJob({ org: ORG, job: { name: uniqueName('running'), image: 'x', command: 'sleep 60' } });
        return job!;
      },
      memberWorkspace,
      async freshWorkspace(state) {
        const { workspace } = await memberWorkspaces.createWorkspace({ org: ORG, workspace: { name: uniqueName('ws'), image: 'x' } });
        return state === 'stopped' ? memberWorkspaces.stopWorkspace({ org: ORG, name: workspace!.name }) : workspace!;
      },
    };
  });

  after(async () => {
    for (const c of tokenless) c.close();
    await sys?.stop();
  });

  it('covers every RPC of every service', () => {
    const all = [SecretServiceService, KeyManagementServiceService, JobServiceService, WorkspaceServiceService].flatMap((d) => Object.values(d).map((m) => m.path.split('/').pop()));
    expect(RPCS.map((r) => r.name).sort()).to.deep.equal(all.sort());
  });

  for (const spec of RPCS) {
    for (const principal of PRINCIPALS) {
      const outcome = expectedOutcome(spec.name, principal.name);
      it(`${spec.name} as ${principal.name} → ${outcome}`, async () => {
        const request = await spec.prepare(fx);
        const caller = callers.get(principal.name)!;
        if (outcome === 'OK') {
          await spec.expectSuccess(await spec.call(caller, request), request, fx);
          return;
        }
        expect((await failure(spec.call(caller, request))).code).to.equal(outcome);
        await spec.expectNoEffect?.(request, fx);
      });
    }
  }

  describe('permission is checked before existence', () => {
    const cases: { title: string; principal: PrincipalName; call(c: Caller): Promise<unknown> }[] = [
      {
        title: 'DeleteSecret of a nonexistent secret as member → PERMISSION_DENIED, not NOT_FOUND',
        principal: 'member',
        call: (c) => c.secrets.deleteSecret({ org: ORG, name: 'NO_SUCH_SECRET' }),
      },
      {
        title: 'GetSecret of a nonexistent secret as other-org admin → PERMISSION_DENIED, not NOT_FOUND',
        principal: 'other-org admin',
        call: (c) => c.secrets.getSecret({ org: ORG, name: 'NO_SUCH_SECRET' }),
      },
      {
        title: 'GetWorkspace of a nonexistent workspace as other-org admin → PERMISSION_DENIED, not NOT_FOUND',
        principal: 'other-org admin',
        call: (c) => c.workspaces.getWorkspace({ org: ORG, name: 'no-such-workspace' }),
      },
      {
        title: 'ExecWorkspace in a nonexistent workspace as operator → PERMISSION_DENIED, not NOT_FOUND',
        principal: 'operator',
        call: (c) => execIn(c.workspaces, { org: ORG, name: 'no-such-workspace' }, ['true']),
      },
      {
        title: 'ListAuditEvents with a bad page token as other-org admin → PERMISSION_DENIED, not INVALID_ARGUMENT',
        principal: 'other-org admin',
        call: (c) => c.secrets.listAuditEvents({ org: ORG, pageToken: 'not-a-token' }),
      },
    ];
    for (const c of cases) {
      it(c.title, async () => {
        expect((await failure(c.call(callers.get(c.principal)!))).code).to.equal('PERMISSION_DENIED');
      });
    }
  });

  describe('a workspace is its owner\'s (members use their own; admins see, stop and delete the org\'s)', () => {
    const OTHER_MEMBER = 'max@acme';
    let other: WorkspaceClient;
    let admin: WorkspaceClient;
    before(async () => {
      other = sys.workspaces(await sys.token('member', { org: ORG, subject: OTHER_MEMBER }));
      admin = callers.get('admin')!.workspaces;
    });

    const rows: { title: string; as: 'another member' | 'the admin'; state: 'running' | 'stopped'; call(c: WorkspaceClient, name: string): Promise<unknown> }[] = [
      { title: 'GetWorkspace', as: 'another member', state: 'running', call: (c, name) => c.getWorkspace({ org: ORG, name }) },
      { title: 'StopWorkspace', as: 'another member', state: 'running', call: (c, name) => c.stopWorkspace({ org: ORG, name }) },
      { title: 'StartWorkspace', as: 'another member', state: 'stopped', call: (c, name) => c.startWorkspace({ org: ORG, name }) },
      { title: 'DeleteWorkspace', as: 'another member', state: 'running', call: (c, name) => c.deleteWorkspace({ org: ORG, name }) },
      { title: 'ExecWorkspace', as: 'another member', state: 'running', call: (c, name) => execIn(c, { org: ORG, name }, ['true']) },
      { title: 'StartWorkspace', as: 'the admin', state: 'stopped', call: (c, name) => c.startWorkspace({ org: ORG, name }) },
      { title: 'ExecWorkspace', as: 'the admin', state: 'running', call: (c, name) => execIn(c, { org: ORG, name }, ['true']) },
    ];
    for (const row of rows) {
      it(`${row.title} of a member's ${row.state} workspace as ${row.as} → PERMISSION_DENIED, and it stays ${row.state}`, async () => {
        const workspace = await fx.freshWorkspace(row.state);
        const refused = await failure(row.call(row.as === 'the admin' ? admin : other, workspace.name));
        expect(refused.code).to.equal('PERMISSION_DENIED');
        expect(refused.message).to.include(MEMBER_SUBJECT);
        const [stored] = await sys.db('job-launcher')('workspaces').where({ org: ORG, name: workspace.name });
        expect(stored).to.include({ state: row.state === 'running' ? 'RUNNING' : 'STOPPED', run: 1 });
      });
    }

    it('lists a member\'s own workspaces only, and the admin the org\'s', async () => {
      const { workspace } = await other.createWorkspace({ org: ORG, workspace: { name: fx.uniqueName('max-ws'), image: 'x' } });
      const owners = async (c: WorkspaceClient) => new Set((await c.listWorkspaces({ org: ORG, pageSize: 1000 })).workspaces.map((w) => w.createBy));
      expect([...(await owners(other))]).to.deep.equal([OTHER_MEMBER]);
      expect([...(await owners(callers.get('member')!.workspaces))]).to.deep.equal([MEMBER_SUBJECT]);
      expect(await owners(admin)).to.include(OTHER_MEMBER).and.to.include(MEMBER_SUBJECT);
      expect((await admin.getWorkspace({ org: ORG, name: workspace!.name })).createBy).to.equal(OTHER_MEMBER);
    });

    it('audits a refused exec in the org\'s chain', async () => {
      const events = () => sys.db('secret-store')('secret_audit_events').where({ org: ORG, action: 'call.denied', actor: OTHER_MEMBER });
      const before = (await events()).length;
      await failure(execIn(other, { org: ORG, name: fx.memberWorkspace.name }, ['true']));
      const added = (await events()).slice(before);
      expect(added.map((e: { details: string }) => JSON.parse(e.details))).to.deep.include({ method: 'ExecWorkspace', role: 'member', service: 'job-launcher' });
    });
  });

  describe('denials are audited', () => {
    it('records a call.denied event for a member\'s refused CreateSecret and creates no secret', async () => {
      const events = () => sys.db('secret-store')('secret_audit_events').where({ org: ORG });
      const before = await events();
      const name = fx.uniqueName('DENIED');
      const refused = await failure(
        callers.get('member')!.secrets.createSecret({ org: ORG, secret: { name, key: 'DENIED_KEY' }, value: fx.sealed }),
      );
      expect(refused.code).to.equal('PERMISSION_DENIED');

      const added = (await events()).filter((e: { id: number }) => !before.some((b: { id: number }) => b.id === e.id));
      expect(added.map((e: { action: string; actor: string }) => ({ action: e.action, actor: e.actor }))).to.deep.equal([
        { action: 'call.denied', actor: MEMBER_SUBJECT },
      ]);
      expect(JSON.parse(added[0].details)).to.include({ method: 'CreateSecret', role: 'member' });
      expect(await sys.db('secret-store')('secrets').where({ org: ORG, name })).to.have.length(0);
    });
  });
});

// ---- limits (issue 17): the same rules on both engines -------------------------------------

/** A follow of a job's log, open until closed: resolves once its first chunk arrived (the stream holds its place). */
async function openFollow(jobs: JobClient, id: string): Promise<{ close(): Promise<void> }> {
  const stream = jobs.streamJobLogs({ org: ORG, id, follow: true })[Symbol.asyncIterator]();
  const first = await stream.next();
  expect(first.done, 'the follow ended before its first chunk').to.equal(false);
  return { close: async () => void (await stream.return?.()) };
}

const LOG_STREAM_CAP = 3;

for (const engine of engines()) {
  describe(`limits (${engine.name})`, function () {
    let sys: TestSystem;
    const as = new Map<string, { secrets: SecretClient; jobs: JobClient; kms: KmsClient }>();
    let auditCount: () => Promise<number>;

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), logStreamsPerPrincipal: LOG_STREAM_CAP });
      for (const [name, role, subject] of [['admin', 'admin', ADMIN_SUBJECT], ['member', 'member', MEMBER_SUBJECT], ['other member', 'member', 'max@acme']] as const) {
        const token = await sys.token(role, { org: ORG, subject });
        as.set(name, { secrets: sys.secrets(token), jobs: sys.jobs(token), kms: sys.kms(token) });
      }
      const admin = as.get('admin')!.secrets;
      await admin.createSecret({ org: ORG, secret: { name: 'PLAIN' }, value: await sys.seal('plain-value') });
      await admin.createSecret({ org: ORG, secret: { name: 'WITH_NUL' }, value: await sys.seal(Buffer.from('one\0two')) });
      auditCount = async () => Number((await sys.db('secret-store')('secret_audit_events').count({ n: '*' }).first())?.n);
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it(`StreamJobLogs: a member's follow beyond ${LOG_STREAM_CAP} open → RESOURCE_EXHAUSTED saying the cap; others still stream; a closed stream frees its place`, async () => {
      const { job } = await as.get('member')!.jobs.createJob({ org: ORG, job: { name: 'chatty', image: 'x', command: 'echo ready; sleep 60' } });
      const member = as.get('member')!.jobs;
      const open = [];
      for (let i = 0; i < LOG_STREAM_CAP; i++) open.push(await openFollow(member, job!.id));
      const refused = await failure(openFollow(member, job!.id));
      expect(refused.code).to.equal('RESOURCE_EXHAUSTED');
      expect(refused.message).to.include(`(${LOG_STREAM_CAP})`);
      // The cap is per principal: another member and the admin are not held back.
      const others = [await openFollow(as.get('other member')!.jobs, job!.id), await openFollow(as.get('admin')!.jobs, job!.id)];
      await open.shift()!.close();
      // The place is given back when the server sees the stream end: retried until it has.
      open.push(await until('a freed log stream place', () => openFollow(member, job!.id).catch(() => undefined)));
      for (const s of [...open, ...others]) await s.close();
      await as.get('member')!.jobs.terminateJob({ org: ORG, id: job!.id });
    });

    const services: { what: string; call(c: { secrets: SecretClient; jobs: JobClient; kms: KmsClient }): Promise<unknown> }[] = [
      { what: 'GetSecret', call: (c) => c.secrets.getSecret({ org: ORG, name: 'PLAIN' }) },
      { what: 'GetOrgPublicKey', call: (c) => c.kms.getOrgPublicKey({ org: ORG }) },
      { what: 'ListJobs', call: (c) => c.jobs.listJobs({ org: ORG }) },
    ];
    for (const s of services) {
      it(`${s.what} with an admin token signed by the issuer that lives past the maximum → UNAUTHENTICATED naming the maximum`, async () => {
        const issuerKey = (await loadIssuerKeys(sys.dataDir, false)).privateKey;
        const token = await new SignJWT({ org: ORG, role: 'admin' })
          .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
          .setSubject(ADMIN_SUBJECT)
          .setIssuer(EMBEDDED_TOKEN_SETTINGS.issuer)
          .setAudience(EMBEDDED_TOKEN_SETTINGS.audience)
          .setIssuedAt()
          .setExpirationTime('31d')
          .sign(issuerKey);
        const refused = await failure(s.call({ secrets: sys.secrets(token), jobs: sys.jobs(token), kms: sys.kms(token) }));
        expect(refused.code).to.equal('UNAUTHENTICATED');
        expect(refused.message).to.match(/maximum of 30 days for user tokens/);
      });
    }

    for (const who of ['admin', 'member']) {
      it(`CreateJob as ${who} asking for a value with a NUL byte as a variable → FAILED_PRECONDITION naming it; no job, nothing audited`, async () => {
        const jobs = as.get(who)!.jobs;
        const jobsBefore = (await jobs.listJobs({ org: ORG })).jobs.length;
        const eventsBefore = await auditCount();
        const refused = await failure(jobs.createJob({ org: ORG, job: { name: 'nul', image: 'x', command: 'true', secrets: [{ secretName: 'PLAIN' }, { secretName: 'WITH_NUL', envName: 'BLOB' }] } }));
        expect(refused.code).to.equal('FAILED_PRECONDITION');
        expect(refused.message).to.match(/secret "WITH_NUL" cannot be injected as environment variable BLOB: its value holds a NUL byte/);
        expect((await jobs.listJobs({ org: ORG })).jobs).to.have.length(jobsBefore);
        expect(await auditCount()).to.equal(eventsBefore);
      });
    }

    it('CreateJob as member with a value stored before its fitness was recorded (NUL byte) → FAILED_PRECONDITION from the launcher; no job', async () => {
      await as.get('admin')!.secrets.createSecret({ org: ORG, secret: { name: 'OLD_NUL' }, value: await sys.seal(Buffer.from('a\0b')) });
      await sys.db('secret-store')('secrets').where({ org: ORG, name: 'OLD_NUL' }).update({ env_var_fit: null });
      const jobs = as.get('member')!.jobs;
      const jobsBefore = (await jobs.listJobs({ org: ORG })).jobs.length;
      const refused = await failure(jobs.createJob({ org: ORG, job: { name: 'old-nul', image: 'x', command: 'true', secrets: [{ secretName: 'OLD_NUL' }] } }));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.match(/secret "OLD_NUL" cannot be injected as environment variable OLD_NUL: its value holds a NUL byte/);
      expect((await jobs.listJobs({ org: ORG })).jobs).to.have.length(jobsBefore);
    });

    it('RestartJob as member after its secret was rotated to a value with a NUL byte → FAILED_PRECONDITION; no new attempt, nothing audited', async () => {
      const admin = as.get('admin')!.secrets;
      const member = as.get('member')!.jobs;
      await admin.createSecret({ org: ORG, secret: { name: 'ROTATES' }, value: await sys.seal('text for now') });
      const { job } = await member.createJob({ org: ORG, job: { name: 'restarts', image: 'x', command: 'true', secrets: [{ secretName: 'ROTATES' }] } });
      await admin.updateSecret({ org: ORG, secret: { name: 'ROTATES' }, updateMask: ['value'], value: await sys.seal(Buffer.from([0x00, 0x01])) });
      const eventsBefore = await auditCount();
      const refused = await failure(member.restartJob({ org: ORG, id: job!.id }));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.match(/secret "ROTATES" cannot be injected as environment variable ROTATES/);
      expect((await member.getJob({ org: ORG, id: job!.id })).attempts).to.have.length(1);
      expect(await auditCount()).to.equal(eventsBefore);
    });
  });
}
