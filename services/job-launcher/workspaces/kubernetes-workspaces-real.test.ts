/**
 * The Kubernetes workspace backend against a real kube-apiserver and kube-controller-manager
 * (v1.20.2, test/support/kube-control-plane.ts): real admission, validation, RBAC (the launcher
 * runs as deploy/'s job-launcher with exactly deploy/'s role) and the real garbage collector.
 * There is no kubelet: the test plays it (test/support/kubelet.ts) by binding pods, patching
 * their status and answering the execs the API server proxies to it. What a real kubelet does
 * inside a pod (refreshing a secret volume, running a process) is not exercised here; what the
 * API server stores, allows and proxies is.
 */
import { expect } from 'chai';
import { ApiException, Exec, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { captureLog } from '../../../test/support/log-capture.js';
import { CONTROL_PLANE_TIMEOUT_MS, controlPlane, dropNamespace, launcherMay, launcherNamespace, type ControlPlane } from '../../../test/support/kube-control-plane.js';
import { FILE_BINARY, FILE_PEM, PLAINTEXT, rejection } from '../../../test/support/kube-attempts.js';
import { TestKubelet } from '../../../test/support/kubelet.js';
import { workspaceHandleOf, workspaceSpec } from '../../../test/support/kube-workspaces.js';
import { until } from '../../../test/support/until.js';
import { BackendError, BackendPreconditionError } from '../backend.js';
import { jobKey } from '../backends/kubernetes-manifests.js';
import { createKubernetesWorkspaceBackend, NEW_FILE_MESSAGE, NOT_ON_A_NODE_MESSAGE, NOT_RUNNING_MESSAGE } from './kubernetes-workspaces.js';
import { IDLE_COMMAND, WORKSPACE_CONTAINER } from './kubernetes-workspace-manifests.js';
import { POD_GONE_MESSAGE } from './kubernetes-workspace-status.js';
import type { ExecProcess, WorkspaceBackend, WorkspaceHandle, WorkspaceSpec, WorkspaceStatus } from './workspace-backend.js';
import { DEFAULT_SHELL } from './kubernetes-workspace-exec.js';
import type { ExecSession } from '../../../test/support/kubelet-exec.js';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64');
const WS_KEY = jobKey('w_4f2c9a1b7d3e8a60');
const WS_OBJECT = `vessl-ws-${WS_KEY}`;

/** The HTTP code of a refused call, or 0 when it was allowed. */
async function codeOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('Kubernetes workspace backend against a real API server and controller manager (v1.20.2)', function () {
  let plane: ControlPlane;
  let kubelet: TestKubelet;
  let ns: string;
  let backend: WorkspaceBackend;
  let logged: string[];

  before(async function () {
    this.timeout(CONTROL_PLANE_TIMEOUT_MS);
    plane = await controlPlane();
    kubelet = await TestKubelet.start(plane, WORKSPACE_CONTAINER);
  });

  after(async () => {
    await kubelet?.close();
  });

  beforeEach(async () => {
    ns = await launcherNamespace(plane, 'workspaces');
    const { lines, log } = captureLog('k8s-ws-real-test');
    logged = lines;
    backend = createKubernetesWorkspaceBackend({ kubeConfig: plane.launcher, namespace: () => ns, log, pollIntervalMs: 50 });
  });

  afterEach(async () => {
    await backend.close();
    await dropNamespace(plane, ns);
  });

  const readSecret = (name: string) => plane.core.readNamespacedSecret({ namespace: ns, name });
  const readPod = (name: string) => plane.core.readNamespacedPod({ namespace: ns, name });
  const readConfigMap = (name: string) => plane.core.readNamespacedConfigMap({ namespace: ns, name });
  const gone = async (read: Promise<unknown>) => (await codeOf(read)) === 404;

  async function started(s: WorkspaceSpec = workspaceSpec()): Promise<WorkspaceHandle> {
    return workspaceHandleOf(s, (await backend.start(s)).ref);
  }

  /** Binds the pod to a Node whose kubelet port nothing listens on, and reports it Running. */
  async function runOnNodeWithoutKubelet(pod: string): Promise<string> {
    const node = `vessl-test-no-kubelet-${ns}`;
    await plane.core.createNode({ body: { metadata: { name: node } } });
    await plane.core.patchNodeStatus({ name: node, body: { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: 1 } } } } }, MERGE_PATCH);
    await plane.core.createNamespacedPodBinding({ namespace: ns, name: pod, body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod }, target: { apiVersion: 'v1', kind: 'Node', name: node } } });
    await plane.core.patchNamespacedPodStatus(
      { namespace: ns, name: pod, body: { status: { phase: 'Running', containerStatuses: [{ name: WORKSPACE_CONTAINER, image: 'test', imageID: 'test', ready: true, restartCount: 0, state: { running: { startedAt: new Date() } } }] } } },
      MERGE_PATCH,
    );
    return node;
  }

  describe('start', () => {
    it('makes the workspace\'s ConfigMap (no data) and a mutable Secret holding only the run\'s values, owned by it', async () => {
      const { ref } = await backend.start(workspaceSpec());
      expect(ref).to.equal(`${WS_OBJECT}-r1`);
      const workspace = await readConfigMap(WS_OBJECT);
      expect(workspace.data, 'the workspace object holds nothing').to.equal(undefined);
      expect(workspace.binaryData).to.equal(undefined);
      expect(workspace.metadata?.labels).to.deep.equal({ 'app.kubernetes.io/managed-by': 'vessl-secrets', 'secrets.vessl.ai/workspace': WS_KEY, 'secrets.vessl.ai/org': 'acme' });
      expect(workspace.metadata?.annotations).to.deep.equal({ 'secrets.vessl.ai/workspace-id': 'w_4f2c9a1b7d3e8a60', 'secrets.vessl.ai/workspace-name': 'dev' });

      const secret = await readSecret(ref);
      expect(secret.immutable, 'a rotated file is rewritten in it').to.equal(undefined);
      expect(secret.type).to.equal('Opaque');
      expect(secret.data).to.deep.equal({ DB_PASSWORD: b64(PLAINTEXT), 'file-0': b64(FILE_PEM), 'file-1': b64(FILE_BINARY) });
      expect(secret.metadata?.labels).to.include({ 'secrets.vessl.ai/workspace': WS_KEY, 'secrets.vessl.ai/workspace-run': '1', 'secrets.vessl.ai/org': 'acme' });
      expect(secret.metadata?.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'ConfigMap', name: WS_OBJECT, uid: workspace.metadata?.uid, controller: false, blockOwnerDeletion: false }]);
      expect(logged.join(''), 'no value in the log').not.to.include(PLAINTEXT);
    });

    it('stores a hardened Pod owned by the workspace that reads the values through secretKeyRef and an optional volume with items, mode 0400', async () => {
      const { ref } = await backend.start(workspaceSpec({ command: 'jupyter lab' }));
      const pod = await readPod(ref);
      const uid = (await readConfigMap(WS_OBJECT)).metadata?.uid;
      expect(pod.metadata?.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'ConfigMap', name: WS_OBJECT, uid, controller: false, blockOwnerDeletion: false }]);
      expect(JSON.stringify(pod), 'no value in the Pod').not.to.include(PLAINTEXT).and.not.to.include(b64(PLAINTEXT));
      const spec = pod.spec!;
      expect(spec.restartPolicy).to.equal('Never');
      expect(spec.automountServiceAccountToken).to.equal(false);
      expect(spec.enableServiceLinks).to.equal(false);
      expect(spec.securityContext).to.deep.equal({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.volumes?.find((v) => v.name === 'secret-files')).to.deep.equal({
        name: 'secret-files',
        secret: { secretName: ref, defaultMode: 0o400, optional: true, items: [{ key: 'file-0', path: 'tls/key.pem' }, { key: 'file-1', path: 'blob.bin' }] },
      });
      const [container] = spec.containers;
      expect(container.name).to.equal('workspace');
      expect(container.command).to.deep.equal(['/bin/sh', '-c', 'jupyter lab']);
      expect(container.env).to.deep.equal([
        { name: 'EDITOR', value: 'vim' },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: ref, key: 'DB_PASSWORD' } } },
      ]);
      expect(container.volumeMounts).to.deep.include({ name: 'secret-files', mountPath: '/run/secrets', readOnly: true });
      expect(container.securityContext).to.deep.equal({ allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    });

    it('idles when the workspace has no command, in a shell a stop ends at once', async () => {
      const { ref } = await backend.start(workspaceSpec({ command: '' }));
      expect((await readPod(ref)).spec?.containers[0].command).to.deep.equal(['/bin/sh', '-c', IDLE_COMMAND]);
    });

    it('gives the next run its own Secret and Pod under the same workspace object', async () => {
      const first = await started();
      await backend.stop(first);
      const second = await started(workspaceSpec({ run: 2 }));
      expect(second.ref).to.equal(`${WS_OBJECT}-r2`);
      const uid = (await readConfigMap(WS_OBJECT)).metadata?.uid;
      expect((await readPod(second.ref)).metadata?.ownerReferences?.[0].uid).to.equal(uid);
      expect((await readSecret(second.ref)).metadata?.ownerReferences?.[0].uid).to.equal(uid);
      expect((await plane.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'secrets.vessl.ai/workspace' })).items).to.have.length(1);
    });

    it('leaves no Secret behind when the Pod is refused (a quota of no pods: 403)', async () => {
      // The quota controller does not run here: the test sets the quota's status as it would.
      await plane.core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } } });
      await plane.core.patchNamespacedResourceQuotaStatus({ namespace: ns, name: 'no-pods', body: { status: { hard: { pods: '0' }, used: { pods: '0' } } } }, MERGE_PATCH);
      const err = await rejection(backend.start(workspaceSpec()));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused to create the run\'s Pod (403 Forbidden)');
      expect((await plane.core.listNamespacedSecret({ namespace: ns })).items.filter((s) => s.type === 'Opaque')).to.deep.equal([]);
      expect((await plane.core.listNamespacedPod({ namespace: ns })).items).to.deep.equal([]);
      expect(logged.join('')).not.to.include(PLAINTEXT);
    });

    const badSpecs: [string, Partial<WorkspaceSpec>, string][] = [
      ['a variable name that is not a C identifier', { env: [{ name: 'BAD-NAME', value: 'x' }] }, 'environment variable name "BAD-NAME" is not a C identifier'],
      ['no image', { image: ' ' }, 'the workspace has no image'],
      ['a file outside /run/secrets/', { secretFiles: [{ path: '/home/u/key', value: Buffer.from('k'), secretName: 'k', version: 1 }] }, 'secret file of "k"'],
      ['a run number below 1', { run: 0 }, 'the run number must be a positive integer'],
      ['an org that cannot be a label', { org: 'Acme Corp' }, 'the org name cannot be used as a Kubernetes label'],
    ];
    for (const [what, overrides, message] of badSpecs) {
      it(`refuses a spec with ${what}, creating nothing`, async () => {
        const err = await rejection(backend.start(workspaceSpec(overrides)));
        expect(err).to.be.instanceOf(BackendError);
        expect((err as BackendError).publicMessage).to.include(message);
        expect((await plane.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'secrets.vessl.ai/workspace' })).items).to.deep.equal([]);
        expect((await plane.core.listNamespacedSecret({ namespace: ns })).items.filter((s) => s.type === 'Opaque')).to.deep.equal([]);
      });
    }
  });

  describe('status', () => {
    it('follows the pod: unscheduled STARTING, Running RUNNING, exit 0 STOPPED, exit 3 FAILED with its code', async () => {
      const first = await started();
      expect(await backend.status(first)).to.deep.equal({ state: 'STARTING', message: 'its pod is not scheduled on a node yet' });
      await kubelet.run(ns, first.ref);
      const running = await backend.status(first);
      expect(running.state).to.equal('RUNNING');
      expect(running.startTime).to.be.instanceOf(Date);
      await kubelet.exit(ns, first.ref, 0);
      expect(await backend.status(first)).to.include({ state: 'STOPPED', exitCode: 0, message: 'its command exited with status 0' });

      const second = await started(workspaceSpec({ run: 2 }));
      await kubelet.run(ns, second.ref);
      await kubelet.exit(ns, second.ref, 3);
      expect(await backend.status(second)).to.include({ state: 'FAILED', exitCode: 3, message: 'its command exited with status 3' });
    });

    it('reads STOPPED, "its pod was deleted", once the pod is gone', async () => {
      const handle = await started();
      await plane.core.deleteNamespacedPod({ namespace: ns, name: handle.ref, gracePeriodSeconds: 0 });
      await until('the pod to go', async () => ((await gone(readPod(handle.ref))) ? true : undefined));
      expect(await backend.status(handle)).to.deep.equal({ state: 'STOPPED', message: POD_GONE_MESSAGE });
    });

    it('reports a run\'s end by itself through onStateChange, once', async () => {
      const seen: [WorkspaceHandle, WorkspaceStatus][] = [];
      backend.onStateChange!((h, s) => seen.push([h, s]));
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      await until('RUNNING to be reported', async () => (seen.some(([, s]) => s.state === 'RUNNING') ? true : undefined));
      await kubelet.exit(ns, handle.ref, 2);
      const [, failed] = await until('FAILED to be reported', async () => seen.find(([, s]) => s.state === 'FAILED'));
      expect(failed).to.include({ exitCode: 2 });
      expect(seen.map(([h, s]) => [h, s.state])).to.deep.equal([[handle, 'RUNNING'], [handle, 'FAILED']]);
    });
  });

  describe('stop and remove', () => {
    it('stop deletes the run\'s Pod and Secret and keeps the workspace object; stopping again is a no-op', async () => {
      const handle = await started();
      await backend.stop(handle);
      expect(await gone(readPod(handle.ref)), 'an unscheduled pod goes at once').to.equal(true);
      expect(await gone(readSecret(handle.ref))).to.equal(true);
      expect((await readConfigMap(WS_OBJECT)).metadata?.name).to.equal(WS_OBJECT);
      await backend.stop(handle);
      expect(await backend.status(handle)).to.deep.equal({ state: 'STOPPED', message: POD_GONE_MESSAGE });
    });

    it('stop resolves while a pod on a node is still terminating (its kubelet ends it), its Secret already gone', async () => {
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      await backend.stop(handle);
      expect((await readPod(handle.ref)).metadata?.deletionTimestamp, 'Terminating: only a kubelet removes it').to.be.instanceOf(Date);
      expect(await gone(readSecret(handle.ref))).to.equal(true);
      expect(await backend.status(handle)).to.deep.equal({ state: 'STOPPED', message: POD_GONE_MESSAGE });
    });

    it('remove deletes the workspace object, and the garbage collector then deletes every run\'s Pod and Secret', async () => {
      const first = await started();
      const second = await started(workspaceSpec({ run: 2 }));
      await backend.remove('acme', 'w_4f2c9a1b7d3e8a60');
      expect(await gone(readConfigMap(WS_OBJECT))).to.equal(true);
      for (const ref of [first.ref, second.ref]) {
        await until(`the garbage collector to delete ${ref}`, async () => ((await gone(readPod(ref))) && (await gone(readSecret(ref))) ? true : undefined), 60_000);
      }
      await backend.remove('acme', 'w_4f2c9a1b7d3e8a60');
    });
  });

  describe('secret files of a running run', () => {
    it('writeFile rewrites the file\'s key in the run\'s Secret and leaves the rest, the Pod unchanged', async () => {
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      const podBefore = await readPod(handle.ref);
      await backend.writeFile(handle, { path: '/run/secrets/tls/key.pem', value: Buffer.from('rotated-pem'), secretName: 'tls-key', version: 3 });
      expect((await readSecret(handle.ref)).data).to.deep.equal({ DB_PASSWORD: b64(PLAINTEXT), 'file-0': b64('rotated-pem'), 'file-1': b64(FILE_BINARY) });
      expect((await readPod(handle.ref)).spec).to.deep.equal(podBefore.spec);
      expect(logged.join('')).not.to.include('rotated-pem');
    });

    it('removeFile drops the key from the Secret (the optional volume item then projects nothing) and is idempotent', async () => {
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      await backend.removeFile(handle, '/run/secrets/blob.bin');
      await backend.removeFile(handle, '/run/secrets/blob.bin');
      expect((await readSecret(handle.ref)).data).to.deep.equal({ DB_PASSWORD: b64(PLAINTEXT), 'file-0': b64(FILE_PEM) });
      // The API server keeps the item naming a key that no longer exists: only a kubelet reads it.
      const pod = await readPod(handle.ref);
      expect(pod.spec?.volumes?.find((v) => v.name === 'secret-files')?.secret?.items).to.deep.include({ key: 'file-1', path: 'blob.bin' });
      // A later rotation of the same secret brings the file back.
      await backend.writeFile(handle, { path: '/run/secrets/blob.bin', value: Buffer.from('again'), secretName: 'blob', version: 2 });
      expect((await readSecret(handle.ref)).data?.['file-1']).to.equal(b64('again'));
    });

    it('a Pod\'s volumes are immutable on the API server: a new path is refused as a precondition', async () => {
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      const patched = await codeOf(
        plane.core.patchNamespacedPod({ namespace: ns, name: handle.ref, body: { spec: { volumes: [{ name: 'secret-files', secret: { secretName: handle.ref, items: [{ key: 'file-2', path: 'new' }] } }] } } }, MERGE_PATCH),
      );
      expect(patched, 'the API server forbids changing a pod\'s volumes').to.equal(422);
      const err = await rejection(backend.writeFile(handle, { path: '/run/secrets/new.txt', value: Buffer.from('v'), secretName: 'new', version: 1 }));
      expect(err).to.be.instanceOf(BackendPreconditionError);
      expect((err as BackendPreconditionError).publicMessage).to.equal(NEW_FILE_MESSAGE);
      expect(Object.keys((await readSecret(handle.ref)).data ?? {})).to.deep.equal(['DB_PASSWORD', 'file-0', 'file-1']);
    });

    it('writeFile after stop is a precondition failure', async () => {
      const handle = await started();
      await backend.stop(handle);
      const err = await rejection(backend.writeFile(handle, { path: '/run/secrets/blob.bin', value: Buffer.from('v'), secretName: 'blob', version: 2 }));
      expect(err).to.be.instanceOf(BackendPreconditionError);
      expect((err as BackendPreconditionError).publicMessage).to.equal(NOT_RUNNING_MESSAGE);
    });
  });

  // The API server proxies an exec to the node's kubelet; the test's kubelet plays the command
  // (kubelet-exec.ts), so what is real is the client, the API server's authorization and proxy,
  // and the channel protocol between them; the process is pretend.
  describe('exec', () => {
    /** Output of a process, gathered from the moment its listeners are set. */
    function outputOf(proc: ExecProcess): { stdout: () => string; stderr: () => string } {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      proc.onStdout((c) => out.push(c));
      proc.onStderr((c) => err.push(c));
      return { stdout: () => Buffer.concat(out).toString('utf8'), stderr: () => Buffer.concat(err).toString('utf8') };
    }

    it('runs a command through the API server\'s proxy: its arguments, stdin in, stdout and stderr apart, the exit code from the status channel', async () => {
      const sessions: ExecSession[] = [];
      kubelet.onExec((session) => {
        sessions.push(session);
        session.onInput = (s) => {
          const line = Buffer.concat(s.input).toString('utf8');
          if (!line.endsWith('\n')) return;
          s.writeStdout(`out:${line}`);
          s.writeStderr('err\n');
          s.exit(3);
        };
      });
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      const proc = await backend.exec(handle, { command: ['sh', '-c', 'read x; echo "out:$x"; echo err >&2; exit 3'], tty: false });
      const output = outputOf(proc);
      proc.write(Buffer.from('hel'));
      proc.write(Buffer.from('lo\n'));
      expect(await proc.exit).to.deep.equal({ code: 3 });
      expect(output.stdout()).to.equal('out:hello\n');
      expect(output.stderr()).to.equal('err\n');
      expect(sessions).to.have.length(1);
      expect(sessions[0]).to.include({ namespace: ns, pod: handle.ref, container: 'workspace', tty: false, stdin: true, stderr: true });
      expect(sessions[0].command).to.deep.equal(['sh', '-c', 'read x; echo "out:$x"; echo err >&2; exit 3']);
    });

    it('with a terminal: the user\'s shell, no separate stderr, the first size and each resize sent, status 0; output before the listeners is kept', async () => {
      let session: ExecSession | undefined;
      kubelet.onExec((s) => {
        session = s;
        s.writeStdout('$ ');
        s.onInput = (current) => {
          if (current.sizes.length === 2) current.exit(0);
        };
      });
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      const proc = await backend.exec(handle, { command: [], tty: true, size: { rows: 40, cols: 120 } });
      await until('the first size to arrive', async () => (session?.sizes.length === 1 ? true : undefined));
      const output = outputOf(proc);
      proc.resize({ rows: 50, cols: 100 });
      expect(await proc.exit).to.deep.equal({ code: 0 });
      expect(output.stdout()).to.equal('$ ');
      expect(output.stderr()).to.equal('');
      expect(session!).to.include({ tty: true, stdin: true, stderr: false });
      expect(session!.command).to.deep.equal(DEFAULT_SHELL);
      expect(session!.sizes).to.deep.equal([{ height: 40, width: 120 }, { height: 50, width: 100 }]);
    });

    it('kill closes the connection: the kubelet sees it go, and exit says the command did not report how it ended', async () => {
      let session: ExecSession | undefined;
      let hungUp = false;
      kubelet.onExec((s) => {
        session = s;
        s.onClose = () => (hungUp = true);
      });
      const handle = await started();
      await kubelet.run(ns, handle.ref);
      const proc = await backend.exec(handle, { command: ['sleep', '1000'], tty: true });
      await until('the kubelet to get the exec', async () => session);
      proc.kill();
      proc.kill();
      const err = await rejection(proc.exit);
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal('the connection to the workspace ended before the command reported how it ended');
      await until('the kubelet to see the connection close', async () => (hungUp ? true : undefined));
    });

    it('the launcher may open pods/exec in its namespaces (get for a WebSocket, create for SPDY) and nothing cluster-wide', async () => {
      expect(await launcherMay(plane, ns, 'get', 'pods', '', 'exec')).to.equal(true);
      expect(await launcherMay(plane, ns, 'create', 'pods', '', 'exec')).to.equal(true);
      expect(await launcherMay(plane, 'default', 'create', 'pods', '', 'exec')).to.equal(false);
    });

    it('on a pod with no node: the API server refuses the exec, and the backend says the pod is not on a node yet', async () => {
      const handle = await started();
      const raw = await rejection(new Exec(plane.launcher).exec(ns, handle.ref, WORKSPACE_CONTAINER, ['true'], null, null, null, false));
      expect(String((raw as { message?: string }).message)).to.equal('Unexpected server response: 400');
      const err = await rejection(backend.exec(handle, { command: ['id'], tty: false }));
      expect(err).to.be.instanceOf(BackendPreconditionError);
      expect((err as BackendPreconditionError).publicMessage).to.equal(NOT_ON_A_NODE_MESSAGE);
    });

    it('on a running pod whose node has no kubelet: a BackendError (not a precondition) naming only the HTTP code', async () => {
      const handle = await started();
      const node = await runOnNodeWithoutKubelet(handle.ref);
      try {
        const err = await rejection(backend.exec(handle, { command: ['sh', '-c', `echo ${PLAINTEXT}`], tty: true, size: { rows: 40, cols: 120 } }));
        expect(err).to.be.instanceOf(BackendError);
        expect(err).not.to.be.instanceOf(BackendPreconditionError);
        // The API server answers the upgrade with 500 when it cannot dial the kubelet; its body
        // (which names the node's address) is not repeated.
        expect((err as BackendError).publicMessage).to.equal('the workspace\'s container could not be reached through the Kubernetes API (HTTP 500)');
        expect(logged.join('')).not.to.include(PLAINTEXT).and.not.to.include('dial');
      } finally {
        await plane.core.deleteNode({ name: node });
      }
    });

    it('on a stopped run: a precondition failure', async () => {
      const handle = await started();
      await backend.stop(handle);
      const err = await rejection(backend.exec(handle, { command: [], tty: true }));
      expect((err as BackendPreconditionError).publicMessage).to.equal(NOT_RUNNING_MESSAGE);
    });
  });
});
