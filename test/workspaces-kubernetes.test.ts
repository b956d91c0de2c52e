import { expect } from 'chai';
import { Workspace_State } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { createKubernetesWorkspaceBackend } from '../services/job-launcher/workspaces/kubernetes-workspaces.js';
import { CONTROL_PLANE_TIMEOUT_MS, controlPlane, dropNamespace, launcherNamespace, type ControlPlane } from './support/kube-control-plane.js';
import { TestKubelet } from './support/kubelet.js';
import { failure, startTestSystem, type SecretClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import { until } from './support/until.js';
import { execIn, sh } from './support/workspace-exec.js';

/**
 * Workspaces on the Kubernetes backend, end to end through the all-in-one server, a real
 * kube-apiserver and controller-manager (test/support/kube-control-plane.ts), with the launcher
 * holding deploy/'s role in the org's namespace and no more; the test plays the kubelet (its
 * pod status and the execs the API server proxies to it). What only a real kubelet does (the
 * file's refresh inside the container, after its sync delay) is in docs/workspaces-kubernetes.md.
 */
describe('workspaces on the Kubernetes backend, end to end through the all-in-one server and a real API server', function () {
  const CONTAINER = 'workspace';
  let plane: ControlPlane;
  let kubelet: TestKubelet;
  let ns: string;
  let sys: TestSystem;
  let admin: SecretClient;
  let mine: WorkspaceClient;

  before(async function () {
    this.timeout(CONTROL_PLANE_TIMEOUT_MS);
    plane = await controlPlane();
    kubelet = await TestKubelet.start(plane, CONTAINER);
    ns = await launcherNamespace(plane, 'vessl-acme-ws');
    const workspaceBackend = createKubernetesWorkspaceBackend({ kubeConfig: plane.launcher, namespace: () => ns, pollIntervalMs: 50 });
    sys = await startTestSystem({ workspaceBackend, workspaceRefreshMs: 200 });
    admin = sys.secrets(await sys.token('admin'));
    mine = sys.workspaces(await sys.token('member', { subject: 'mia@acme' }));
    await admin.createSecret({ org: 'acme', secret: { name: 'HF_TOKEN' }, value: await sys.seal('hf-kube-workspace-v1') });
    await admin.createSecret({ org: 'acme', secret: { name: 'gcp-key', key: 'GCP_KEY' }, value: await sys.seal('{"type":"service_account","v":1}\n') });
  });
  after(async () => {
    await sys?.stop();
    await kubelet?.close();
    if (ns !== undefined) await dropNamespace(plane, ns);
  });

  const secretOfRun = async (ref: string) => plane.core.readNamespacedSecret({ namespace: ns, name: ref });
  const decoded = (data: Record<string, string> | undefined, key: string) => Buffer.from(data?.[key] ?? '', 'base64').toString();

  it('creates a pod with the secrets, keeps the file key of its Secret current after a rotation, and runs exec through pods/exec', async () => {
    const { workspace } = await mine.createWorkspace({
      org: 'acme',
      workspace: { name: 'gpu-dev', image: 'python:3.12', secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'gcp-key', filePath: '/run/secrets/gcp.json' }] },
    });
    expect(workspace).to.include({ backend: 'kubernetes', state: Workspace_State.STATE_STARTING, run: 1 });
    const pods = (await plane.core.listNamespacedPod({ namespace: ns })).items;
    expect(pods).to.have.length(1);
    const pod = pods[0].metadata!.name!;
    expect(JSON.stringify(pods[0])).not.to.include('hf-kube-workspace-v1');

    // Not on a node yet: exec is refused in plain words, the workspace still starting.
    const early = await failure(execIn(mine, { name: 'gpu-dev' }, ['true']));
    expect(early.code).to.equal('FAILED_PRECONDITION');
    expect(early.message).to.include('still starting');

    await kubelet.run(ns, pod);
    await until('the workspace to run', async () => ((await mine.getWorkspace({ org: 'acme', name: 'gpu-dev' })).state === Workspace_State.STATE_RUNNING ? true : undefined));

    // The API server proxies the exec to the kubelet; the output comes back masked.
    kubelet.onExec((session) => {
      session.writeStdout(`args=${session.command.join(' ')}\n`);
      session.writeStdout('token=hf-kube-workspace-v1\n');
      session.exit(5);
    });
    const result = await execIn(mine, { name: 'gpu-dev' }, sh('echo hi'));
    expect(result).to.include({ stdout: 'args=/bin/sh -c echo hi\ntoken=***\n', code: 5 });

    const rotated = '{"type":"service_account","v":2}\n';
    await admin.updateSecret({ org: 'acme', secret: { name: 'gcp-key' }, value: await sys.seal(rotated), updateMask: ['value'] });
    await admin.updateSecret({ org: 'acme', secret: { name: 'HF_TOKEN' }, value: await sys.seal('hf-kube-workspace-v2'), updateMask: ['value'] });
    const shown = await until('the file to be refreshed', async () => {
      const w = await mine.getWorkspace({ org: 'acme', name: 'gpu-dev' });
      return w.injected.find((s) => s.secretName === 'gcp-key')?.version === 2 ? w : undefined;
    });
    expect(shown.injected.find((s) => s.secretName === 'HF_TOKEN')).to.include({ version: 1, currentVersion: 2, stale: true });
    const secret = await secretOfRun(pod);
    const fileKey = Object.keys(secret.data ?? {}).find((k) => k.startsWith('file-'))!;
    expect(decoded(secret.data, fileKey)).to.equal(rotated);
    // The variable's key keeps the value the container started with.
    expect(decoded(secret.data, 'HF_TOKEN')).to.equal('hf-kube-workspace-v1');
  });

  it('removes a deleted secret\'s file key, and deleting the workspace lets the garbage collector take its objects', async () => {
    await admin.deleteSecret({ org: 'acme', name: 'gcp-key' });
    const w = await until('the file to be removed', async () => {
      const got = await mine.getWorkspace({ org: 'acme', name: 'gpu-dev' });
      return got.injected.find((s) => s.secretName === 'gcp-key')?.removed ? got : undefined;
    });
    const [pod] = (await plane.core.listNamespacedPod({ namespace: ns })).items;
    const secret = await secretOfRun(pod.metadata!.name!);
    expect(Object.keys(secret.data ?? {}).filter((k) => k.startsWith('file-'))).to.deep.equal([]);
    expect(w.state).to.equal(Workspace_State.STATE_RUNNING);

    await mine.deleteWorkspace({ org: 'acme', name: 'gpu-dev' });
    await until('the garbage collector to remove the pod and its Secret', async () => {
      const [pods, secrets, maps] = await Promise.all([
        plane.core.listNamespacedPod({ namespace: ns }),
        plane.core.listNamespacedSecret({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=vessl-secrets' }),
        plane.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=vessl-secrets' }),
      ]);
      const left = [...pods.items, ...secrets.items, ...maps.items].filter((o) => o.metadata?.deletionTimestamp === undefined);
      return left.length === 0 ? true : undefined;
    }, 60_000);
  });
});
