/**
 * The Kubernetes workspace backend (issue 19; objects in kubernetes-workspace-manifests.ts).
 *
 * A workspace is a ConfigMap `vessl-ws-<key>` in its org's namespace, holding no secret; each
 * run is a Secret and a Pod named `vessl-ws-<key>-r<run>`, both owned by that ConfigMap. stop()
 * deletes the run's Pod and Secret; remove() deletes the ConfigMap and the garbage collector of
 * kube-controller-manager deletes whatever a run left. The workspace keeps no files between
 * runs here (no volume outlives a pod): its home is the image's.
 *
 * Secret files of a running run are rewritten in its Secret (writeFile, removeFile). The kubelet
 * does not see that at once: it re-projects a pod's secret volumes on its periodic pod sync
 * (`syncFrequency`, 1 minute by default, with jitter), reading the Secret from its cache, which
 * a watch keeps current (`configMapAndSecretChangeDetectionStrategy: Watch`, the default since
 * Kubernetes 1.12; with `Cache` a TTL adds to the delay). So a rotated or removed file changes
 * inside the pod about a minute later (commonly observed: 60 to 90 s), atomically: the kubelet
 * writes the new files into a fresh timestamped directory and swaps the `..data` symlink, so a
 * reader sees the old bytes or the new, never a mix. Variables never change: a container's
 * environment is fixed when it starts.
 *
 * Kubernetes API error bodies can echo what was sent (values included): only the HTTP code
 * and the Status reason are ever logged or put in an error (apiErrorSummary).
 */
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../runtime/logger.js';
import { BackendError, BackendPreconditionError, type SecretFileEntry } from '../backend.js';
import { apiErrorSummary } from '../backends/kubernetes.js';
import { KUBERNETES_FILE_ROOTS } from '../backends/kubernetes-manifests.js';
import { execInPod, refusedExecCode } from './kubernetes-workspace-exec.js';
import { buildRunPod, buildRunSecret, buildWorkspaceObject, fileKeyOfPath, runObjectName, WORKSPACE_CONTAINER, workspaceObjectName, workspaceSpecProblem } from './kubernetes-workspace-manifests.js';
import { workspaceStatusOfPod } from './kubernetes-workspace-status.js';
import { pollRunStates, type RunStatePoller } from './kubernetes-workspace-poller.js';
import type { ExecProcess, ExecRequest, WorkspaceBackend, WorkspaceHandle, WorkspaceSpec, WorkspaceStatus } from './workspace-backend.js';

export interface KubernetesWorkspaceBackendOptions {
  kubeConfig: KubeConfig;
  /** The namespace an org's workspaces run in (the same function the job backend is given). */
  namespace: (org: string) => string;
  log?: Logger;
  /** How often runs the backend knows of are checked for onStateChange (default 5 s). */
  pollIntervalMs?: number;
}

/** Our patches are RFC 7386 merge patches (the generated client would otherwise send JSON Patch). */
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export const NOT_ON_A_NODE_MESSAGE = 'the workspace\'s pod is not running on a node yet';
export const NOT_RUNNING_MESSAGE = 'the workspace is not running';
export const NEW_FILE_MESSAGE =
  'a secret file cannot be added to a running Kubernetes workspace (a pod\'s volumes are fixed when it starts): restart the workspace';

interface Target {
  namespace: string;
  name: string;
}

export function createKubernetesWorkspaceBackend(opts: KubernetesWorkspaceBackendOptions): WorkspaceBackend {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const fieldsOf = (target: Target) => ({ namespace: target.namespace, object: target.name });
  let poller: RunStatePoller | undefined;

  /** Logs a failed call by code and reason only, and returns the error to throw. */
  function failure(action: string, target: Target, err: unknown): BackendError {
    const { code, reason } = apiErrorSummary(err);
    opts.log?.warn({ ...fieldsOf(target), code, reason }, `Kubernetes: could not ${action}`);
    if (code === undefined) return new BackendError(`could not ${action}: ${reason}`, `the Kubernetes API could not be reached to ${action}`);
    const answer = reason === undefined ? `${code}` : `${code} ${reason}`;
    return new BackendError(`could not ${action}: ${answer}`, `the Kubernetes API refused to ${action} (${answer})`);
  }

  /** The workspace's ConfigMap, made on its first run and found again on the next ones. */
  async function workspaceObject(spec: WorkspaceSpec, namespace: string): Promise<{ name: string; uid: string }> {
    const target = { namespace, name: workspaceObjectName(spec.workspaceId) };
    try {
      const made = await core.createNamespacedConfigMap({ namespace, body: buildWorkspaceObject(spec, namespace) });
      return { name: target.name, uid: made.metadata!.uid! };
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw failure('create the workspace\'s ConfigMap', target, err);
    }
    try {
      const found = await core.readNamespacedConfigMap(target);
      return { name: target.name, uid: found.metadata!.uid! };
    } catch (err) {
      throw failure('read the workspace\'s ConfigMap', target, err);
    }
  }

  async function start(spec: WorkspaceSpec): Promise<{ ref: string; status: WorkspaceStatus }> {
    const problem = workspaceSpecProblem(spec);
    if (problem !== undefined) throw new BackendError(`cannot start on Kubernetes: ${problem}`, `the workspace cannot run on Kubernetes: ${problem}`);
    const namespace = opts.namespace(spec.org);
    const owner = await workspaceObject(spec, namespace);
    const target = { namespace, name: runObjectName(spec.workspaceId, spec.run) };
    try {
      await core.createNamespacedSecret({ namespace, body: buildRunSecret(spec, namespace, owner) });
    } catch (err) {
      // A 409 means this run's Secret exists already, possibly in use by its Pod: leave it.
      throw failure('create the run\'s Secret', target, err);
    }
    let pod: V1Pod;
    try {
      pod = await core.createNamespacedPod({ namespace, body: buildRunPod(spec, namespace, owner) });
    } catch (err) {
      // Only when the API did not answer may the Pod exist; a 409 Pod is not ours to delete.
      await removeRunLeftovers(target, !(err instanceof ApiException));
      throw failure('create the run\'s Pod', target, err);
    }
    const handle = { org: spec.org, workspaceId: spec.workspaceId, run: spec.run, ref: target.name };
    const status = workspaceStatusOfPod(pod);
    poller?.track(handle, status);
    opts.log?.info({ ...fieldsOf(target), org: spec.org, workspaceId: spec.workspaceId, run: spec.run, injected: spec.secretEnv.map((s) => s.name), files: spec.secretFiles.map((f) => f.path) }, 'Kubernetes: workspace run started');
    return { ref: target.name, status };
  }

  /** Deletes what a failed start created; a leftover Secret is logged loudly since it holds values. */
  async function removeRunLeftovers(target: Target, deletePod: boolean): Promise<void> {
    if (deletePod) {
      await ignoreNotFound(core.deleteNamespacedPod(target)).catch((err: unknown) => {
        opts.log?.error({ ...fieldsOf(target), ...apiErrorSummary(err) }, 'Kubernetes: could not delete the Pod of a failed workspace start');
      });
    }
    await ignoreNotFound(core.deleteNamespacedSecret(target)).catch((err: unknown) => {
      opts.log?.error({ ...fieldsOf(target), ...apiErrorSummary(err) }, 'Kubernetes: could not delete the Secret of a failed workspace start; the workspace\'s deletion removes it, or remove it by hand');
    });
  }

  function targetOf(handle: WorkspaceHandle): Target {
    return { namespace: opts.namespace(handle.org), name: handle.ref };
  }

  /** The run's Pod, or undefined once it is gone. */
  async function readPod(target: Target): Promise<V1Pod | undefined> {
    try {
      return await core.readNamespacedPod(target);
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw failure('read the workspace\'s Pod', target, err);
    }
  }

  async function status(handle: WorkspaceHandle): Promise<WorkspaceStatus> {
    const current = workspaceStatusOfPod(await readPod(targetOf(handle)));
    poller?.track(handle, current);
    return current;
  }

  async function stop(handle: WorkspaceHandle): Promise<void> {
    const target = targetOf(handle);
    poller?.forget(handle);
    // The Pod first (its container reads the Secret's files until it ends); both are tried.
    // Resolves once the API server accepted the deletions: a pod on a node is then Terminating.
    const podError = await errorOf(ignoreNotFound(core.deleteNamespacedPod(target)));
    const secretError = await errorOf(ignoreNotFound(core.deleteNamespacedSecret(target)));
    if (podError !== undefined) throw failure('delete the workspace\'s Pod', target, podError);
    if (secretError !== undefined) throw failure('delete the workspace\'s Secret', target, secretError);
    opts.log?.info({ ...fieldsOf(target), workspaceId: handle.workspaceId, run: handle.run }, 'Kubernetes: workspace run stopped');
  }

  async function remove(org: string, workspaceId: string): Promise<void> {
    const target = { namespace: opts.namespace(org), name: workspaceObjectName(workspaceId) };
    // Background: the garbage collector deletes every run's Secret and Pod the ConfigMap owns.
    await ignoreNotFound(core.deleteNamespacedConfigMap({ ...target, propagationPolicy: 'Background' })).catch((err: unknown) => {
      throw failure('delete the workspace\'s ConfigMap', target, err);
    });
    opts.log?.info({ ...fieldsOf(target), workspaceId }, 'Kubernetes: workspace removed');
  }

  /** The run's Pod when it runs on a node; a BackendPreconditionError otherwise. */
  async function runningPod(handle: WorkspaceHandle): Promise<V1Pod> {
    const pod = await readPod(targetOf(handle));
    const state = workspaceStatusOfPod(pod).state;
    if (pod === undefined || state === 'STOPPED' || state === 'FAILED') {
      throw new BackendPreconditionError(`the run's pod is ${pod === undefined ? 'gone' : state}`, NOT_RUNNING_MESSAGE, 'WORKSPACE_NOT_RUNNING');
    }
    if (pod.spec?.nodeName === undefined || pod.status?.phase !== 'Running') {
      throw new BackendPreconditionError('the run\'s pod is not running on a node', NOT_ON_A_NODE_MESSAGE, 'WORKSPACE_NOT_RUNNING');
    }
    return pod;
  }

  async function exec(handle: WorkspaceHandle, request: ExecRequest): Promise<ExecProcess> {
    const target = targetOf(handle);
    await runningPod(handle);
    try {
      return await execInPod(opts.kubeConfig, { namespace: target.namespace, pod: target.name, container: WORKSPACE_CONTAINER }, request);
    } catch (err) {
      throw execFailure(target, err);
    }
  }

  /** A refused or failed exec, by HTTP code only: the API server's answer can quote the command. */
  function execFailure(target: Target, err: unknown): BackendError {
    const code = refusedExecCode(err);
    opts.log?.warn({ ...fieldsOf(target), code, reason: code === undefined ? apiErrorSummary(err).reason : undefined }, 'Kubernetes: exec into a workspace failed');
    if (code === 403) return new BackendError('exec refused: 403', 'the job launcher may not run commands in workspace pods (pods/exec is missing from its RBAC role)');
    if (code === undefined) return new BackendError('exec failed: the API server could not be reached', 'the Kubernetes API could not be reached to run the command');
    return new BackendError(`exec failed: ${code}`, `the workspace's container could not be reached through the Kubernetes API (HTTP ${code})`);
  }

  /**
   * Points the run's file at `path` to new bytes, in its Secret: the kubelet refreshes the file
   * on its next sync (header comment). Only a path the Pod already mounts can be written.
   */
  async function writeFile(handle: WorkspaceHandle, file: SecretFileEntry): Promise<void> {
    const target = targetOf(handle);
    const key = await fileKey(handle, file.path);
    if (key === undefined) throw new BackendPreconditionError(`no secret file is mounted at ${file.path}`, NEW_FILE_MESSAGE, 'WORKSPACE_FILE_NOT_MOUNTED');
    await patchSecretData(target, { [key]: Buffer.from(file.value).toString('base64') }, 'rewrite a secret file in the run\'s Secret');
    opts.log?.info({ ...fieldsOf(target), path: file.path, secret: file.secretName, version: file.version }, 'Kubernetes: workspace secret file rewritten');
  }

  /**
   * Drops the file's key from the run's Secret. Its volume item stays (a pod's volumes are
   * immutable), but the volume is optional: at its next sync the kubelet leaves the file out.
   */
  async function removeFile(handle: WorkspaceHandle, path: string): Promise<void> {
    const target = targetOf(handle);
    const key = await fileKey(handle, path);
    if (key === undefined) return;
    await patchSecretData(target, { [key]: null }, 'remove a secret file from the run\'s Secret');
    opts.log?.info({ ...fieldsOf(target), path }, 'Kubernetes: workspace secret file removed');
  }

  /** The Secret key the running Pod mounts at `path` (its volume items say which). */
  async function fileKey(handle: WorkspaceHandle, path: string): Promise<string | undefined> {
    const pod = await readPod(targetOf(handle));
    const state = workspaceStatusOfPod(pod).state;
    if (pod === undefined || state === 'STOPPED' || state === 'FAILED') {
      throw new BackendPreconditionError('the run\'s pod is not running', NOT_RUNNING_MESSAGE, 'WORKSPACE_NOT_RUNNING');
    }
    return fileKeyOfPath(pod, handle.ref, path);
  }

  async function patchSecretData(target: Target, data: Record<string, string | null>, action: string): Promise<void> {
    try {
      // The answer (the whole Secret, values included) is dropped unread.
      await core.patchNamespacedSecret({ ...target, body: { data } }, MERGE_PATCH);
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) throw new BackendPreconditionError('the run\'s Secret is gone', NOT_RUNNING_MESSAGE, 'WORKSPACE_NOT_RUNNING');
      throw failure(action, target, err);
    }
  }

  function onStateChange(listener: (handle: WorkspaceHandle, status: WorkspaceStatus) => void): void {
    poller ??= pollRunStates({ status: async (handle) => workspaceStatusOfPod(await readPod(targetOf(handle))), intervalMs: opts.pollIntervalMs ?? 5_000, log: opts.log });
    poller.listen(listener);
  }

  async function close(): Promise<void> {
    poller?.close();
  }

  return { name: 'kubernetes', secretFiles: { roots: KUBERNETES_FILE_ROOTS }, start, status, stop, remove, exec, writeFile, removeFile, onStateChange, close };
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 404)) throw err;
  }
}

/** The error a call failed with, or undefined when it succeeded. */
async function errorOf(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return err ?? new Error('failed');
  }
}
