import { expect } from 'chai';
import { Writable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import { createServiceClient } from './grpc-client.js';
import { implementService, type ServiceHandlers } from './grpc-server.js';
import { InProcessChannel } from './in-process-channel.js';
import { createLogger } from './logger.js';
import { failedPrecondition } from './errors.js';

const quiet = createLogger('test', new Writable({ write: (_c, _e, done) => done() }), 'warn');
const verifier = { verify: async (token: string) => ({ subject: `svc:${token}`, org: '', role: 'service' as const, expiresAt: 0 }) };

/** A channel serving key-management's definition with the given handlers (the rest unimplemented). */
function channelWith(handlers: Partial<ServiceHandlers<typeof KeyManagementServiceService>>) {
  const channel = new InProcessChannel();
  const implementation = implementService(KeyManagementServiceService, handlers as ServiceHandlers<typeof KeyManagementServiceService>, { verifier, log: quiet });
  channel.serve([{ definition: KeyManagementServiceService, implementation }]);
  // Nothing listens here: a call that left the process would fail UNAVAILABLE, not pass.
  return createServiceClient(KeyManagementServiceService, '127.0.0.1:1', { token: async () => 'caller', inProcess: channel, defaultTimeoutMs: 2000 });
}

describe('InProcessChannel', () => {
  it('a handler that never answers ends in DEADLINE_EXCEEDED at the caller\'s deadline', async () => {
    const client = channelWith({ getOrgPublicKey: () => new Promise(() => {}) });
    const err = await client.getOrgPublicKey({ org: 'acme' }, { timeoutMs: 50 }).then(() => undefined, (e: { code: number }) => e);
    expect(err?.code).to.equal(status.DEADLINE_EXCEEDED);
  });

  it('answers are decoded copies: what the caller changes never reaches the handler\'s objects', async () => {
    const key = { org: 'acme', keyId: 'k1', publicKey: Buffer.from([1, 2, 3]) };
    const client = channelWith({ getOrgPublicKey: async () => key as never });
    const got = await client.getOrgPublicKey({ org: 'acme' });
    expect(got.keyId).to.equal('k1');
    got.publicKey[0] = 9;
    expect(key.publicKey[0]).to.equal(1);
  });

  it('requests are decoded by the server\'s decoder: the handler sees defaults, never the caller\'s object', async () => {
    let seen: unknown;
    const request = { org: 'acme' };
    const client = channelWith({ getOrgPublicKey: async (req) => ((seen = req), { org: 'acme', keyId: 'k', publicKey: Buffer.alloc(0) }) as never });
    await client.getOrgPublicKey(request);
    expect(seen).to.deep.equal({ org: 'acme' });
    expect(seen).to.not.equal(request);
  });

  it('an error keeps its code, message and details as over the network', async () => {
    const client = channelWith({ getOrgPublicKey: async () => Promise.reject(failedPrecondition('the org key is retired', 'ORG_KEY_RETIRED')) });
    const err = await client.getOrgPublicKey({ org: 'acme' }).then(() => undefined, (e: { code: number; details: string; message: string }) => e);
    expect(err).to.include({ code: status.FAILED_PRECONDITION, details: 'the org key is retired', message: '9 FAILED_PRECONDITION: the org key is retired' });
  });

  it('a method it does not serve goes over the network (here nothing listens: UNAVAILABLE)', async () => {
    const client = createServiceClient(KeyManagementServiceService, '127.0.0.1:1', { token: async () => 'caller', inProcess: new InProcessChannel(), defaultTimeoutMs: 2000 });
    const err = await client.getOrgPublicKey({ org: 'acme' }).then(() => undefined, (e: { code: number }) => e);
    expect(err?.code).to.equal(status.UNAVAILABLE);
    client.close();
  });

  it('serves unary methods only, and nothing once closed', () => {
    const channel = new InProcessChannel();
    const implementation = implementService(KeyManagementServiceService, {} as ServiceHandlers<typeof KeyManagementServiceService>, { verifier, log: quiet });
    channel.serve([{ definition: KeyManagementServiceService, implementation }]);
    expect(channel.serves(KeyManagementServiceService.getOrgPublicKey.path)).to.equal(true);
    channel.close();
    expect(channel.serves(KeyManagementServiceService.getOrgPublicKey.path)).to.equal(false);
  });
});
