import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { Job_State } from '../services/gen/vessl/jobs/v1/jobs.js';
import { createKubernetesBackend, LOG_VALUES_GONE_MESSAGE } from '../services/job-launcher/backends/kubernetes.js';
import { decodeServiceError } from '../services/runtime/errors.js';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { failure, startTestSystem, type TestSystem } from './support/system.js';

/** The whole system with the Kubernetes backend, against the fake API server (no cluster here). */
describe('jobs on the Kubernetes backend, end to end through the all-in-one server', function () {
  let fake: FakeKubeApi;
  let sys: TestSystem;
  before(async () => {
    fake = await FakeKubeApi.start();
    const backend = createKubernetesBackend({ kubeConfig: fake.kubeConfig(), namespace: (org) => `vessl-${org}`, pollIntervalMs: 50 });
    sys = await startTestSystem({ backend });
    const secrets = sys.secrets(await sys.token('admin'));
    await secrets.createSecret({ org: 'acme', secret: { name: 'HF_TOKEN' }, value: await sys.seal('hf-kube-value-123') });
    await secrets.createSecret({ org: 'acme', secret: { name: 'wandb', key: 'WANDB_API_KEY' }, value: await sys.seal('wandb-kube-value-456') });
  });
  after(async () => {
    await sys?.stop();
    await fake?.close();
  });

  it('creates an immutable Secret with only the injected values and a Job that references it', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const { job, warnings } = await jobs.createJob({
      org: 'acme',
      job: { name: 'train', image: 'python:3.12', command: 'python train.py', env: [{ name: 'WANDB_API_KEY', value: 'offline' }, { name: 'LR', value: '0.1' }], secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'wandb' }] },
    });
    expect(warnings).to.have.length(1);
    expect(job!.backend).to.equal('kubernetes');
    const [secret] = fake.all('Secret') as { metadata: { namespace: string; ownerReferences?: { kind: string }[] }; immutable: boolean; data: Record<string, string> }[];
    expect(secret.metadata.namespace).to.equal('vessl-acme');
    expect(secret.immutable).to.equal(true);
    expect(Object.keys(secret.data)).to.deep.equal(['HF_TOKEN']); // the overridden secret was not decrypted nor sent
    expect(Buffer.from(secret.data.HF_TOKEN, 'base64').toString()).to.equal('hf-kube-value-123');
    expect(secret.metadata.ownerReferences?.[0].kind).to.equal('Job');
    const [kubeJob] = fake.all('Job');
    const text = JSON.stringify(kubeJob);
    expect(text).to.not.include('hf-kube-value-123').and.not.include(Buffer.from('hf-kube-value-123').toString('base64'));
    expect(text).to.include('secretKeyRef');
    expect(text).to.include('"value":"offline"');
  });

  it('follows the Job through its states and reads the pod log', async () => {
    const jobs = sys.jobs(await sys.token('admin'));
    const [listed] = (await jobs.listJobs({ org: 'acme' })).jobs;
    const name = (fake.all('Job')[0] as { metadata: { name: string } }).metadata.name;
    const pod = fake.startJob('vessl-acme', name);
    expect((await jobs.getJob({ org: 'acme', id: listed.id })).state).to.equal(Job_State.STATE_RUNNING);
    fake.appendPodLog('vessl-acme', pod, 'epoch 1 done\n');
    fake.endPodLog('vessl-acme', pod);
    fake.completeJob('vessl-acme', name, 0);
    const done = await jobs.getJob({ org: 'acme', id: listed.id });
    expect(done.state).to.equal(Job_State.STATE_SUCCEEDED);
    const chunks: Buffer[] = [];
    for await (const m of jobs.streamJobLogs({ org: 'acme', id: listed.id })) chunks.push(m.data);
    expect(Buffer.concat(chunks).toString()).to.equal('epoch 1 done\n');
  });

  it('serves the log masked, and refuses it with FAILED_PRECONDITION once the values to mask it with are gone', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const { job } = await jobs.createJob({ org: 'acme', job: { name: 'leaky', image: 'python:3.12', command: 'python leak.py', secrets: [{ secretName: 'HF_TOKEN' }] } });
    const kubeJob = (fake.all('Job') as { metadata: { name: string; annotations: Record<string, string> } }[]).find((j) => j.metadata.annotations['secrets.vessl.ai/job-id'] === job!.id);
    const name = kubeJob!.metadata.name;
    const pod = fake.startJob('vessl-acme', name);
    fake.appendPodLog('vessl-acme', pod, `token=hf-kube-value-123 encoded=${Buffer.from('hf-kube-value-123').toString('base64')}\n`);
    fake.completeJob('vessl-acme', name, 0);
    const read = async () => {
      const chunks: Buffer[] = [];
      for await (const m of jobs.streamJobLogs({ org: 'acme', id: job!.id })) chunks.push(m.data);
      return Buffer.concat(chunks).toString();
    };
    expect(await read()).to.equal('token=*** encoded=***\n');
    await fetch(`${fake.url}/api/v1/namespaces/vessl-acme/secrets/${name}`, { method: 'DELETE', headers: { authorization: 'Bearer t' } });
    const refused = await read().then(
      () => expect.fail('the log was served without the values to mask it with'),
      (err: unknown) => decodeServiceError(err as ServiceError),
    );
    expect(refused).to.deep.include({ code: status.FAILED_PRECONDITION, message: LOG_VALUES_GONE_MESSAGE, reason: 'LOG_MASKING_VALUES_GONE' });
  });

  it('answers UNAVAILABLE without the API server\'s body when the Job is refused, and leaves no Secret', async () => {
    const secretsBefore = fake.all('Secret').length;
    fake.failNext('POST', /\/jobs$/, 422, 'rejected: hf-kube-value-123');
    const got = await failure(sys.jobs(await sys.token('admin')).createJob({ org: 'acme', job: { name: 'refused', image: 'x', command: 'true', secrets: [{ secretName: 'HF_TOKEN' }] } }));
    expect(got.code).to.equal('UNAVAILABLE');
    expect(got.message).to.not.include('hf-kube-value-123');
    expect(fake.all('Secret').length).to.equal(secretsBefore);
    expect((await sys.jobs(await sys.token('admin')).listJobs({ org: 'acme' })).jobs.map((j) => j.name)).to.not.include('refused');
  });
});
