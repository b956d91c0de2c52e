import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { hits } from './support/plaintext.js';
import { JobServiceService } from '../services/gen/vessl/jobs/v1/jobs.js';
import { WorkspaceServiceService } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import type { JsonError } from '../services/web-console/grpc-bridge.js';
import { bridgedMethods } from '../services/web-console/method-table.js';
import { postApi, startConsoleSystem, type ConsoleSystem } from './support/web-console.js';

/**
 * Every RPC path of the generated service definitions that HTTP can carry: what the bridge must
 * expose. A stream of requests (ExecWorkspace's terminal) cannot be one HTTP request.
 */
const ALL_METHODS = [SecretServiceService, KeyManagementServiceService, JobServiceService, WorkspaceServiceService].flatMap((service) => Object.values(service));
const GENERATED_PATHS = ALL_METHODS.filter((method) => !method.requestStream).map((method) => method.path);

/** Calls no user token may make through the bridge: for other services or operators only. */
const NOT_FOR_ORG_ADMINS = [
  '/vessl.secrets.v1.SecretService/ResolveSecrets',
  '/vessl.secrets.v1.SecretService/LookupSecretVersions',
  '/vessl.secrets.v1.SecretService/CountDataKeys',
  '/vessl.secrets.v1.SecretService/RecordAuditEvent',
  '/vessl.secrets.v1.SecretService/RewrapSecrets',
  '/vessl.kms.v1.KeyManagementService/EncryptSealedValue',
  '/vessl.kms.v1.KeyManagementService/EncryptSealedValues',
  '/vessl.kms.v1.KeyManagementService/DecryptForInjection',
  '/vessl.kms.v1.KeyManagementService/RewrapDataKeys',
  '/vessl.kms.v1.KeyManagementService/RewrapOrgKeys',
  '/vessl.kms.v1.KeyManagementService/ListMasterKeys',
  '/vessl.kms.v1.KeyManagementService/RotateMasterKey',
  '/vessl.kms.v1.KeyManagementService/RetireMasterKey',
];

const errorOf = (text: string) => (JSON.parse(text) as JsonError).error;

describe('the web console bridge (JSON over HTTP to every gRPC method)', function () {
  let cs: ConsoleSystem;
  let admin: string;
  let member: string;

  before(async () => {
    await sodium.ready;
    cs = await startConsoleSystem();
    admin = await cs.sys.token('admin');
    member = await cs.sys.token('member');
  });
  after(async () => cs?.stop());

  it('derives its routes from the generated service definitions: every method, nothing else', () => {
    expect([...bridgedMethods().keys()].sort()).to.deep.equal([...GENERATED_PATHS].sort());
    expect(ALL_METHODS.filter((m) => m.requestStream).map((m) => m.path)).to.deep.equal(['/vessl.jobs.v1.WorkspaceService/ExecWorkspace']);
  });

  it('leaves out ExecWorkspace: a terminal is vesslctl’s, and the console shows its command instead', async () => {
    const res = await postApi(cs.web, WorkspaceServiceService.execWorkspace.path, '{}', { token: member });
    expect(res.status, res.text).to.equal(404);
    expect(errorOf(res.text)).to.include({ status: 'NOT_FOUND' });
  });

  it('forwards every method to the gRPC server, whose own auth refuses a call without a token', async () => {
    for (const path of GENERATED_PATHS) {
      const res = await postApi(cs.web, path, '{}');
      expect(res.status, `${path}: ${res.text}`).to.equal(401);
      expect(errorOf(res.text), path).to.include({ status: 'UNAUTHENTICATED', message: 'missing bearer token in the authorization header' });
    }
  });

  it('adds no authority of its own: service-only and operator calls stay refused for an org admin', async () => {
    for (const path of NOT_FOR_ORG_ADMINS) {
      const res = await postApi(cs.web, path, '{"org":"acme"}', { token: admin });
      expect(res.status, `${path}: ${res.text}`).to.equal(403);
      expect(errorOf(res.text).status, path).to.equal('PERMISSION_DENIED');
    }
  });

  const cases: { name: string; method: string; body: string; opts?: Parameters<typeof postApi>[3]; token?: 'admin' | 'member' | 'service'; status: number; code: string; message: RegExp; fields?: string[] }[] = [
    { name: 'an unknown method', method: '/vessl.secrets.v1.SecretService/ReadSecretValue', body: '{}', token: 'admin', status: 404, code: 'NOT_FOUND', message: /no such method: \/vessl\.secrets\.v1\.SecretService\/ReadSecretValue/ },
    { name: 'a service without a method', method: '/vessl.secrets.v1.SecretService', body: '{}', token: 'admin', status: 404, code: 'NOT_FOUND', message: /no such method/ },
    { name: 'a GET', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: '', opts: { httpMethod: 'GET' }, token: 'admin', status: 405, code: 'UNIMPLEMENTED', message: /is called with POST and a JSON body, not GET/ },
    { name: 'a body that is not JSON', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: '{"org": acme}', token: 'admin', status: 400, code: 'INVALID_ARGUMENT', message: /the request body is not valid JSON/ },
    { name: 'a JSON array instead of a message', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: '[]', token: 'admin', status: 400, code: 'INVALID_ARGUMENT', message: /must be a JSON object: the ListSecretsRequest message/ },
    { name: 'a form post (no JSON content type)', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: 'org=acme', opts: { contentType: 'application/x-www-form-urlencoded' }, token: 'admin', status: 400, code: 'INVALID_ARGUMENT', message: /Content-Type: application\/json/ },
    { name: 'no token', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: '{"org":"acme"}', status: 401, code: 'UNAUTHENTICATED', message: /missing bearer token/ },
    { name: 'a forged token', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: '{"org":"acme"}', opts: { token: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.AAAA' }, status: 401, code: 'UNAUTHENTICATED', message: /token/ },
    { name: 'a member creating a secret', method: '/vessl.secrets.v1.SecretService/CreateSecret', body: '{"org":"acme","secret":{"name":"X"}}', token: 'member', status: 403, code: 'PERMISSION_DENIED', message: /^role member may not create secrets$/ },
    { name: 'a member of another org listing', method: '/vessl.secrets.v1.SecretService/ListSecrets', body: '{"org":"globex"}', token: 'member', status: 403, code: 'PERMISSION_DENIED', message: /.+/ },
    { name: 'an invalid secret', method: '/vessl.secrets.v1.SecretService/CreateSecret', body: '{"org":"acme","secret":{"name":"-bad"}}', token: 'admin', status: 400, code: 'INVALID_ARGUMENT', message: /secret\.name: must start with a letter or digit/, fields: ['secret.name', 'secret.key', 'value'] },
    { name: 'a missing secret', method: '/vessl.secrets.v1.SecretService/GetSecret', body: '{"org":"acme","name":"nope"}', token: 'admin', status: 404, code: 'NOT_FOUND', message: /nope/ },
    { name: 'a field of the wrong JSON type', method: '/vessl.secrets.v1.SecretService/CreateSecret', body: '{"org":"acme","value":{"sealedBox":123456789}}', token: 'admin', status: 400, code: 'INVALID_ARGUMENT', message: /^the request body does not match the CreateSecretRequest message \(a field has the wrong JSON type\)$/ },
    { name: 'a service token, even for a call services may make', method: '/vessl.kms.v1.KeyManagementService/DecryptForInjection', body: '{"org":"acme"}', token: 'service', status: 403, code: 'PERMISSION_DENIED', message: /service tokens are not accepted here: the web console is for people/ },
    { name: 'a refused log stream (before any message)', method: '/vessl.jobs.v1.JobService/StreamJobLogs', body: '{"org":"acme","id":"j_nope"}', token: 'admin', status: 400, code: 'INVALID_ARGUMENT', message: /is not a job id/ },
  ];
  for (const c of cases) {
    it(`answers ${c.name} with HTTP ${c.status} ${c.code} and the reason in words`, async () => {
      const token = c.token === 'admin' ? admin : c.token === 'member' ? member : c.token === 'service' ? await cs.sys.token('service') : c.opts?.token;
      const res = await postApi(cs.web, c.method, c.body, { ...c.opts, token });
      expect(res.status, res.text).to.equal(c.status);
      expect(res.contentType).to.match(/^application\/json/);
      const error = errorOf(res.text);
      expect(error).to.include({ code: c.status, status: c.code });
      expect(error.message).to.match(c.message);
      if (c.fields) {
        const violations = error.details.flatMap((d) => (d.fieldViolations as { field: string }[] | undefined) ?? []);
        expect(violations.map((v) => v.field)).to.have.members(c.fields);
      }
    });
  }

  it('carries a sealed value in, proto3 JSON out (timestamps, enums by name, no value field)', async () => {
    const key = (await postApi(cs.web, '/vessl.kms.v1.KeyManagementService/GetOrgPublicKey', '{"org":"acme"}', { token: admin })).json() as { keyId: string; publicKey: string };
    const sealedBox = Buffer.from(sodium.crypto_box_seal('bridge-value-0001', Buffer.from(key.publicKey, 'base64'))).toString('base64');
    const body = JSON.stringify({ org: 'acme', secret: { name: 'BRIDGED', description: 'via JSON' }, value: { sealedBox, keyId: key.keyId } });
    const res = await postApi(cs.web, '/vessl.secrets.v1.SecretService/CreateSecret', body, { token: admin });
    expect(res.status, res.text).to.equal(200);
    const secret = res.json() as Record<string, unknown>;
    expect(secret).to.include({ org: 'acme', name: 'BRIDGED', key: 'BRIDGED', description: 'via JSON', version: 1, state: 'STATE_ACTIVE', createBy: 'test-admin' });
    expect(secret.createTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(hits([{ where: 'CreateSecret response', bytes: Buffer.from(res.text) }], ['bridge-value-0001'])).to.deep.equal([]);
  });

  it('streams a job log as NDJSON, one message per line', async () => {
    const created = (await postApi(cs.web, '/vessl.jobs.v1.JobService/CreateJob', JSON.stringify({ org: 'acme', job: { name: 'ndjson', image: 'busybox', command: 'echo one; echo two' } }), { token: member })).json() as {
      job: { id: string };
    };
    const res = await postApi(cs.web, '/vessl.jobs.v1.JobService/StreamJobLogs', JSON.stringify({ org: 'acme', id: created.job.id, follow: true }), { token: member });
    expect(res.status, res.text).to.equal(200);
    expect(res.contentType).to.match(/^application\/x-ndjson/);
    const lines = res.text.split('\n').filter((l) => l !== '');
    const log = lines.map((l) => Buffer.from((JSON.parse(l) as { data: string }).data, 'base64').toString('utf8')).join('');
    expect(log).to.equal('one\ntwo\n');
  });

  it('logs each call by path and status, never a body or a token', () => {
    const log = readFileSync(cs.webLogFile, 'utf8');
    expect(log).to.match(/"path":"\/vessl\.secrets\.v1\.SecretService\/CreateSecret","httpStatus":200/);
    for (const leak of ['sealedBox', admin, member, 'via JSON']) expect(log).to.not.include(leak);
    expect(hits([{ where: 'web console log', bytes: Buffer.from(log) }], ['bridge-value-0001'])).to.deep.equal([]);
  });
});
