import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { generateKeyPair } from 'jose';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, mintToken } from '../services/runtime/auth.js';
import { decodeServiceError, isServiceError, type DecodedStatus } from '../services/runtime/errors.js';
import { startTestSystem, type TestSystem } from './support/system.js';

// The all-in-one's services call each other through an in-process channel (DESIGN §1 as
// amended for issue 22): the same contract, the same adapter. Every call below is made once
// over the network and once through that channel, by the same kind of caller, and must end
// the same way: the same answer, or the same code, message, reason and field violations.

const ORG = 'acme';
const OTHER = 'globex';

type Outcome = { ok: unknown } | { failed: DecodedStatus & { details: string; name: string } };

/** The answer, or everything a client can learn from the failure (code, message, reason, fields). */
async function outcome(call: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await call };
  } catch (err) {
    if (!isServiceError(err)) throw err;
    return { failed: { ...decodeServiceError(err), details: err.details, name: status[err.code] } };
  }
}

interface Callers {
  network: { secrets: ReturnType<TestSystem['secrets']>; kms: ReturnType<TestSystem['kms']> };
  inProcess: { secrets: ReturnType<TestSystem['secrets']>; kms: ReturnType<TestSystem['kms']> };
}

describe('in-process channel: the all-in-one services call each other as over the network', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let existing: { uid: string; version: number; ciphertext: Buffer; wrappedDek: Buffer; kekVersion: number };
  const tokens = new Map<string, () => Promise<string>>();

  before(async () => {
    sys = await startTestSystem({ org: ORG });
    const admin = await sys.token('admin');
    await sys.secrets(admin).createSecret({ org: ORG, secret: { name: 'HF_TOKEN', key: 'HF_TOKEN' }, value: await sys.seal('hf_parity_value') });
    const svc = sys.secrets(await sys.token('service', { subject: 'svc:job-launcher' }));
    const [resolved] = (await svc.resolveSecrets({ org: ORG, names: ['HF_TOKEN'] })).secrets;
    existing = { uid: resolved.uid, version: resolved.version, ciphertext: resolved.ciphertext, wrappedDek: resolved.wrappedDek, kekVersion: resolved.kekVersion };
    const stranger = await generateKeyPair('EdDSA');
    tokens.set('svc:job-launcher', () => sys.token('service', { subject: 'svc:job-launcher' }));
    tokens.set('svc:secret-store', () => sys.token('service', { subject: 'svc:secret-store' }));
    tokens.set('svc:intruder', () => sys.token('service', { subject: 'svc:intruder' }));
    tokens.set('admin', () => sys.token('admin'));
    tokens.set('member', () => sys.token('member'));
    tokens.set('other-org admin', () => sys.token('admin', { org: OTHER }));
    tokens.set('expired token', () => sys.token('service', { subject: 'svc:job-launcher', ttlSeconds: -60 }));
    tokens.set('token signed by another key', () => mintToken(stranger.privateKey, { role: 'service', org: '', subject: 'svc:job-launcher', ttlSeconds: 600, settings: EMBEDDED_TOKEN_SETTINGS }));
    tokens.set('no token', async () => '');
    tokens.set('garbage token', async () => 'not-a-jwt');
  });

  after(async () => {
    await sys?.stop();
  });

  const callersFor = (caller: string): Callers => {
    const token = tokens.get(caller)!;
    return {
      network: { secrets: sys.secrets(token), kms: sys.kms(token) },
      inProcess: { secrets: sys.inProcess(SecretServiceService, token), kms: sys.inProcess(KeyManagementServiceService, token) },
    };
  };

  const calls: { name: string; call: (c: Callers['network']) => Promise<unknown> }[] = [
    { name: 'ResolveSecrets', call: (c) => c.secrets.resolveSecrets({ org: ORG, names: ['HF_TOKEN'] }) },
    { name: 'ResolveSecrets of a missing secret', call: (c) => c.secrets.resolveSecrets({ org: ORG, names: ['NOPE'] }) },
    { name: 'ResolveSecrets with a bad org and name', call: (c) => c.secrets.resolveSecrets({ org: 'Not An Org', names: ['bad name!'] }) },
    { name: 'ResolveSecrets for another org', call: (c) => c.secrets.resolveSecrets({ org: OTHER, names: ['HF_TOKEN'] }) },
    { name: 'LookupSecretVersions', call: (c) => c.secrets.lookupSecretVersions({ org: ORG, uids: [existing.uid, 's_unknown'] }) },
    { name: 'ListSecrets', call: (c) => c.secrets.listSecrets({ org: ORG, pageSize: 10 }) },
    { name: 'DecryptForInjection', call: (c) => c.kms.decryptForInjection({ org: ORG, values: [{ secretUid: existing.uid, version: existing.version, ciphertext: existing.ciphertext, wrappedDek: existing.wrappedDek, kekVersion: existing.kekVersion }] }) },
    { name: 'DecryptForInjection of tampered ciphertext', call: (c) => c.kms.decryptForInjection({ org: ORG, values: [{ secretUid: existing.uid, version: existing.version, ciphertext: Buffer.alloc(existing.ciphertext.length, 7), wrappedDek: existing.wrappedDek, kekVersion: existing.kekVersion }] }) },
    { name: 'DecryptForInjection with no values', call: (c) => c.kms.decryptForInjection({ org: ORG, values: [] }) },
    { name: 'EncryptSealedValues of a bad box', call: (c) => c.kms.encryptSealedValues({ requests: [{ org: ORG, secretUid: existing.uid, version: 9, sealedBox: Buffer.from('not a sealed box'), keyId: 'k' }] }) },
    { name: 'GetOrgPublicKey', call: (c) => c.kms.getOrgPublicKey({ org: ORG }) },
  ];

  const callers = ['svc:job-launcher', 'svc:secret-store', 'svc:intruder', 'admin', 'member', 'other-org admin', 'expired token', 'token signed by another key', 'no token', 'garbage token'];

  for (const caller of callers) {
    for (const { name, call } of calls) {
      it(`${name} by ${caller}: the same outcome both ways`, async () => {
        const c = callersFor(caller);
        const network = await outcome(call(c.network));
        const local = await outcome(call(c.inProcess));
        expect(local).to.deep.equal(network);
      });
    }
  }

  it('the table is not vacuous: it holds answers and refusals of every kind it is about', async () => {
    const c = callersFor('svc:job-launcher');
    expect(await outcome(c.inProcess.secrets.resolveSecrets({ org: ORG, names: ['HF_TOKEN'] }))).to.have.property('ok');
    const value = { secretUid: existing.uid, version: existing.version, ciphertext: existing.ciphertext, wrappedDek: existing.wrappedDek, kekVersion: existing.kekVersion };
    const decrypted = (await c.inProcess.kms.decryptForInjection({ org: ORG, values: [value] })).values;
    expect(Buffer.from(decrypted[0]).toString()).to.equal('hf_parity_value');
    const codes = new Set<string>();
    for (const caller of callers) {
      for (const { call } of calls) {
        const o = await outcome(call(callersFor(caller).inProcess));
        if ('failed' in o) codes.add(o.failed.name);
      }
    }
    expect([...codes]).to.include.members(['INVALID_ARGUMENT', 'NOT_FOUND', 'PERMISSION_DENIED', 'UNAUTHENTICATED', 'DATA_LOSS']);
  });

  it('a request over the size limit is refused RESOURCE_EXHAUSTED both ways', async () => {
    const c = callersFor('svc:secret-store');
    const huge = { requests: [{ org: ORG, secretUid: existing.uid, version: 2, sealedBox: Buffer.alloc(1100 * 1024, 1), keyId: 'k' }] };
    const network = await outcome(c.network.kms.encryptSealedValues(huge));
    const local = await outcome(c.inProcess.kms.encryptSealedValues(huge));
    expect(network).to.have.nested.property('failed.code', status.RESOURCE_EXHAUSTED);
    expect(local).to.have.nested.property('failed.code', status.RESOURCE_EXHAUSTED);
  });

  it('an in-process call is logged and counted like a network call (one log line with its method and subject)', async () => {
    const c = callersFor('svc:job-launcher');
    const requestId = 'in-process-log-check-1';
    await c.inProcess.secrets.lookupSecretVersions({ org: ORG, uids: [existing.uid] }, { requestId });
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(sys.logFile, 'utf8').split('\n').filter((l) => l.includes(requestId));
    expect(lines).to.have.length(1);
    expect(JSON.parse(lines[0])).to.include({ method: 'LookupSecretVersions', code: 'OK', subject: 'svc:job-launcher' });
  });

  it('after the server stops, the channel serves nothing: calls fall back to the network and fail UNAVAILABLE', async () => {
    const other = await startTestSystem({ org: ORG });
    const token = await other.token('service', { subject: 'svc:job-launcher' });
    const channel = other.inProcess(SecretServiceService, token);
    expect(await outcome(channel.lookupSecretVersions({ org: ORG, uids: [] }))).to.have.property('ok');
    await other.stop();
    const after = await outcome(channel.lookupSecretVersions({ org: ORG, uids: [] }, { timeoutMs: 3000 }));
    expect(after).to.have.nested.property('failed.code', status.UNAVAILABLE);
  });
});
