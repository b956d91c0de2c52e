import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { PatchStrategy, setHeaderOptions, type V1Job, type V1Secret } from '@kubernetes/client-node';
import { Job_State } from '../services/gen/vessl/jobs/v1/jobs.js';
import { createKubernetesBackend, LOG_VALUES_GONE_MESSAGE } from '../services/job-launcher/backends/kubernetes.js';
import { decodeServiceError } from '../services/runtime/errors.js';
import { CONTROL_PLANE_TIMEOUT_MS, controlPlane, dropNamespace, launcherNamespace, type ControlPlane } from './support/kube-control-plane.js';
import { TestKubelet } from './support/kubelet.js';
import { failure, startTestSystem, type TestSystem } from './support/system.js';
import { until } from './support/until.js';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * The whole system with the Kubernetes backend, against a real kube-apiserver and controller
 * manager (test/support/kube-control-plane.ts). The launcher has deploy/'s role in the org's
 * namespace and no more; the test plays the kubelet.
 */
describe('jobs on the Kubernetes backend, end to end through the all-in-one server and a real API server', function () {
  let plane: ControlPlane;
  let kubelet: TestKubelet;
  let ns: string;
  let sys: TestSystem;
  before(async function () {
    this.timeout(CONTROL_PLANE_TIMEOUT_MS);
    plane = await controlPlane();
    kubelet = await TestKubelet.start(plane);
    ns = await launcherNamespace(plane, 'vessl-acme');
    const backend = createKubernetesBackend({ kubeConfig: plane.launcher, namespace: () => ns, pollIntervalMs: 50 });
    sys = await startTestSystem({ backend });
    const secrets = sys.secrets(await sys.token('admin'));
    await secrets.createSecret({ org: 'acme', secret: { name: 'HF_TOKEN' }, value: await sys.seal('hf-kube-value-123') });
    await secrets.createSecret({ org: 'acme', secret: { name: 'wandb', key: 'WANDB_API_KEY' }, value: await sys.seal('wandb-kube-value-456') });
  });
  after(async () => {
    await sys?.stop();
    await kubelet?.close();
    if (ns !== undefined) await dropNamespace(plane, ns);
  });

  const attemptSecrets = async (): Promise<V1Secret[]> =>
    (await plane.core.listNamespacedSecret({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=vessl-secrets' })).items;
  const kubeJobOf = async (jobId: string): Promise<V1Job> => {
    const jobs = (await plane.batch.listNamespacedJob({ namespace: ns })).items;
    const found = jobs.find((j) => j.metadata?.annotations?.['secrets.vessl.ai/job-id'] === jobId);
    if (found === undefined) throw new Error(`no Kubernetes Job for ${jobId}`);
    return found;
  };
  const stateOf = async (id: string, want: Job_State) =>
    until(`job ${id} to be ${Job_State[want]}`, async () => ((await sys.jobs(await sys.token('admin')).getJob({ org: 'acme', id })).state === want ? true : undefined));

  it('creates an immutable Secret with only the injected values and a Job that references it', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const { job, warnings } = await jobs.createJob({
      org: 'acme',
      job: { name: 'train', image: 'python:3.12', command: 'python train.py', env: [{ name: 'WANDB_API_KEY', value: 'offline' }, { name: 'LR', value: '0.1' }], secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'wandb' }] },
    });
    expect(warnings).to.have.length(1);
    expect(job!.backend).to.equal('kubernetes');
    const [secret] = await attemptSecrets();
    expect(secret.immutable).to.equal(true);
    expect(Object.keys(secret.data ?? {})).to.deep.equal(['HF_TOKEN']); // the overridden secret was not decrypted nor sent
    expect(Buffer.from(secret.data!.HF_TOKEN, 'base64').toString()).to.equal('hf-kube-value-123');
    const kubeJob = await kubeJobOf(job!.id);
    expect(secret.metadata?.ownerReferences?.map((o) => [o.kind, o.uid])).to.deep.equal([['Job', kubeJob.metadata?.uid]]);
    const text = JSON.stringify(kubeJob);
    expect(text).to.not.include('hf-kube-value-123').and.not.include(Buffer.from('hf-kube-value-123').toString('base64'));
    expect(text).to.include('secretKeyRef');
    expect(text).to.include('"value":"offline"');
  });

  it('follows the Job through the states the real Job controller gives it, and reads the pod log', async () => {
    const jobs = sys.jobs(await sys.token('admin'));
    const [listed] = (await jobs.listJobs({ org: 'acme' })).jobs;
    const name = (await kubeJobOf(listed.id)).metadata!.name!;
    const pod = await kubelet.podOf(ns, name);
    await kubelet.run(ns, pod);
    await stateOf(listed.id, Job_State.STATE_RUNNING);
    kubelet.write(ns, pod, 'epoch 1 done\n');
    await kubelet.exit(ns, pod, 0);
    await stateOf(listed.id, Job_State.STATE_SUCCEEDED);
    const chunks: Buffer[] = [];
    for await (const m of jobs.streamJobLogs({ org: 'acme', id: listed.id })) chunks.push(m.data);
    expect(Buffer.concat(chunks).toString()).to.equal('epoch 1 done\n');
  });

  it('serves the log masked, and refuses it with FAILED_PRECONDITION once the values to mask it with are gone', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const { job } = await jobs.createJob({ org: 'acme', job: { name: 'leaky', image: 'python:3.12', command: 'python leak.py', secrets: [{ secretName: 'HF_TOKEN' }] } });
    const name = (await kubeJobOf(job!.id)).metadata!.name!;
    const pod = await kubelet.podOf(ns, name);
    await kubelet.run(ns, pod);
    kubelet.write(ns, pod, `token=hf-kube-value-123 encoded=${Buffer.from('hf-kube-value-123').toString('base64')}\n`);
    await kubelet.exit(ns, pod, 0);
    await stateOf(job!.id, Job_State.STATE_SUCCEEDED);
    const read = async () => {
      const chunks: Buffer[] = [];
      for await (const m of jobs.streamJobLogs({ org: 'acme', id: job!.id })) chunks.push(m.data);
      return Buffer.concat(chunks).toString();
    };
    expect(await read()).to.equal('token=*** encoded=***\n');
    await plane.core.deleteNamespacedSecret({ namespace: ns, name });
    const refused = await read().then(
      () => expect.fail('the log was served without the values to mask it with'),
      (err: unknown) => decodeServiceError(err as ServiceError),
    );
    expect(refused).to.deep.include({ code: status.FAILED_PRECONDITION, message: LOG_VALUES_GONE_MESSAGE, reason: 'LOG_MASKING_VALUES_GONE' });
  });

  it('answers UNAVAILABLE, saying only the code, when the API server refuses the Job (a quota of no Jobs), and leaves no Secret', async () => {
    const secretsBefore = (await attemptSecrets()).length;
    // The quota controller does not run here: the test sets the quota's status as it would.
    await plane.core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'no-jobs' }, spec: { hard: { 'count/jobs.batch': '0' } } } });
    await plane.core.patchNamespacedResourceQuotaStatus({ namespace: ns, name: 'no-jobs', body: { status: { hard: { 'count/jobs.batch': '0' }, used: { 'count/jobs.batch': '0' } } } }, MERGE_PATCH);
    try {
      const got = await failure(sys.jobs(await sys.token('admin')).createJob({ org: 'acme', job: { name: 'refused', image: 'x', command: 'true', secrets: [{ secretName: 'HF_TOKEN' }] } }));
      expect(got.code).to.equal('UNAVAILABLE');
      expect(got.message).to.include('403 Forbidden').and.not.include('hf-kube-value-123').and.not.include('quota');
      expect((await attemptSecrets()).length).to.equal(secretsBefore);
      expect((await sys.jobs(await sys.token('admin')).listJobs({ org: 'acme' })).jobs.map((j) => j.name)).to.not.include('refused');
      // The value was handed out for that attempt (secret.referenced); the chain then says it never started.
      const { events } = await sys.secrets(await sys.token('admin')).listAuditEvents({ org: 'acme', newestFirst: true, pageSize: 2 });
      const [failed, referenced] = events;
      expect(referenced).to.deep.include({ action: 'secret.referenced', secretName: 'HF_TOKEN' });
      expect(failed).to.deep.include({ action: 'job.launch_failed', actor: 'test-admin', requestId: referenced.requestId });
      expect(failed.details).to.deep.include({ job: referenced.details.job, attempt: '1' });
      expect(failed.details.reason).to.include('403 Forbidden').and.not.include('hf-kube-value-123');
    } finally {
      await plane.core.deleteNamespacedResourceQuota({ namespace: ns, name: 'no-jobs' });
    }
  });

  it('mounts a --secret-file from the attempt\'s Secret through a volume with items under /run/secrets, and refuses a path the backend cannot mount', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const refused = await failure(jobs.createJob({ org: 'acme', job: { name: 'home-file', image: 'x', command: 'true', secrets: [{ secretName: 'HF_TOKEN', envName: '', filePath: '/home/job/.hf' }] } }));
    expect(refused.code).to.equal('INVALID_ARGUMENT');
    expect(refused.fields).to.deep.equal(['job.secrets[0].file_path']);
    expect(refused.message).to.include('is not under /run/secrets/');
    const { job } = await jobs.createJob({ org: 'acme', job: { name: 'file', image: 'python:3.12', command: 'cat /run/secrets/hf/token', secrets: [{ secretName: 'HF_TOKEN', envName: '', filePath: '/run/secrets/hf/token' }] } });
    expect(job!.attempts[0].secrets.map((s) => [s.secretName, s.envName, s.filePath])).to.deep.equal([['HF_TOKEN', '', '/run/secrets/hf/token']]);
    const kubeJob = await kubeJobOf(job!.id);
    const name = kubeJob.metadata!.name!;
    const secret = await plane.core.readNamespacedSecret({ namespace: ns, name });
    expect(Object.keys(secret.data ?? {})).to.deep.equal(['file-0']);
    const pod = kubeJob.spec!.template.spec!;
    expect(pod.volumes).to.deep.equal([{ name: 'secret-files', secret: { secretName: name, defaultMode: 0o400, items: [{ key: 'file-0', path: 'hf/token' }] } }]);
    expect(pod.containers[0].volumeMounts).to.deep.equal([{ name: 'secret-files', mountPath: '/run/secrets', readOnly: true }]);
    expect(JSON.stringify(kubeJob)).to.not.include('hf-kube-value-123');
    const podName = await kubelet.podOf(ns, name);
    await kubelet.run(ns, podName);
    kubelet.write(ns, podName, 'hf-kube-value-123\n');
    await kubelet.exit(ns, podName, 0);
    await stateOf(job!.id, Job_State.STATE_SUCCEEDED);
    const chunks: Buffer[] = [];
    for await (const m of jobs.streamJobLogs({ org: 'acme', id: job!.id })) chunks.push(m.data);
    expect(Buffer.concat(chunks).toString()).to.equal('***\n');
  });
});
