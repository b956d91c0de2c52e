/**
 * The Kubernetes objects a workspace is made of (pure builders, so tests compare exact objects):
 *
 * - one ConfigMap `vessl-ws-<key>` per workspace, for as long as the workspace exists. It holds
 *   no secret (only the workspace's id and name); it is the owner (ownerReferences) of every
 *   run's objects, so deleting it lets the garbage collector remove whatever a run left;
 * - per run, a Secret `vessl-ws-<key>-r<run>` with that run's values (variables under their
 *   names, files under file-N), and a Pod of the same name reading them through secretKeyRef and
 *   a secret volume with items, hardened as a job attempt's pod is (hardenedPodSpec).
 *
 * Unlike a job attempt's Secret, a run's Secret is mutable: a rotated secret file is rewritten
 * in it, and the kubelet refreshes the mounted file (see kubernetes-workspaces.ts). Its volume is
 * `optional` so that a key removed from the Secret (a deleted secret) removes the file instead of
 * failing the volume's refresh.
 */
import type { V1ConfigMap, V1OwnerReference, V1Pod, V1Secret } from '@kubernetes/client-node';
import {
  hardenedPodSpec,
  containerEnv,
  jobKey,
  LABEL_ORG,
  MANAGED_BY,
  podInputProblem,
  secretData,
  secretFilesVolume,
  ANNOTATION_SECRET_VERSIONS,
} from '../backends/kubernetes-manifests.js';
import type { WorkspaceSpec } from './workspace-backend.js';

export const LABEL_WORKSPACE = 'secrets.vessl.ai/workspace';
export const LABEL_RUN = 'secrets.vessl.ai/workspace-run';
/** The workspace id as the manager knows it (ids are case-sensitive, so they cannot be a label). */
export const ANNOTATION_WORKSPACE_ID = 'secrets.vessl.ai/workspace-id';
export const ANNOTATION_WORKSPACE_NAME = 'secrets.vessl.ai/workspace-name';
/** The run pod's single container: exec enters it. */
export const WORKSPACE_CONTAINER = 'workspace';

/**
 * What runs when a workspace has no command: a shell that sleeps until it is told to stop. As
 * PID 1 it would ignore SIGTERM without a handler (and wait out the grace period): the trap
 * makes a stop end it at once, and `wait` lets the trap run while sleep sleeps.
 */
export const IDLE_COMMAND = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done";

/** The workspace's own object, and the prefix of its runs' objects (≤ 29 characters). */
export function workspaceObjectName(workspaceId: string): string {
  return `vessl-ws-${jobKey(workspaceId)}`;
}

/** The name shared by a run's Secret and Pod: the handle's `ref`. */
export function runObjectName(workspaceId: string, run: number): string {
  return `${workspaceObjectName(workspaceId)}-r${run}`;
}

export function workspaceLabels(org: string, workspaceId: string): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': MANAGED_BY, [LABEL_WORKSPACE]: jobKey(workspaceId), [LABEL_ORG]: org };
}

function runLabels(spec: WorkspaceSpec): Record<string, string> {
  return { ...workspaceLabels(spec.org, spec.workspaceId), [LABEL_RUN]: String(spec.run) };
}

/** Why a spec cannot run on Kubernetes, in words (undefined: it can). Checked before anything is made. */
export function workspaceSpecProblem(spec: WorkspaceSpec): string | undefined {
  if (!Number.isSafeInteger(spec.run) || spec.run < 1) return 'the run number must be a positive integer';
  return podInputProblem(spec, 'workspace');
}

/** The workspace's ConfigMap: no data at all, only who it is. */
export function buildWorkspaceObject(spec: Pick<WorkspaceSpec, 'org' | 'workspaceId' | 'name'>, namespace: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: workspaceObjectName(spec.workspaceId),
      namespace,
      labels: workspaceLabels(spec.org, spec.workspaceId),
      annotations: { [ANNOTATION_WORKSPACE_ID]: spec.workspaceId, [ANNOTATION_WORKSPACE_NAME]: spec.name },
    },
  };
}

/** Makes the workspace's object the owner of a run's object (not its controller: nothing reconciles it). */
export function ownedByWorkspace(workspace: { name: string; uid: string }): V1OwnerReference[] {
  return [{ apiVersion: 'v1', kind: 'ConfigMap', name: workspace.name, uid: workspace.uid, controller: false, blockOwnerDeletion: false }];
}

function runMetadata(spec: WorkspaceSpec, namespace: string, owner: { name: string; uid: string }) {
  // Which secret and version each variable and file came from (never a value), as for jobs.
  const versions = Object.fromEntries([...spec.secretEnv.map((s) => [s.name, s] as const), ...spec.secretFiles.map((f) => [f.path, f] as const)].map(([k, s]) => [k, { secret: s.secretName, version: s.version }]));
  return {
    name: runObjectName(spec.workspaceId, spec.run),
    namespace,
    labels: runLabels(spec),
    annotations: { [ANNOTATION_WORKSPACE_ID]: spec.workspaceId, [ANNOTATION_SECRET_VERSIONS]: JSON.stringify(versions) },
    ownerReferences: ownedByWorkspace(owner),
  };
}

/** The run's Secret: its values only; mutable, so that a rotated file can be rewritten. */
export function buildRunSecret(spec: WorkspaceSpec, namespace: string, owner: { name: string; uid: string }): V1Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: runMetadata(spec, namespace, owner), type: 'Opaque', data: secretData(spec.secretEnv, spec.secretFiles) };
}

/** The run's Pod. It names the Secret's keys; no value ever appears in it. */
export function buildRunPod(spec: WorkspaceSpec, namespace: string, owner: { name: string; uid: string }): V1Pod {
  const metadata = runMetadata(spec, namespace, owner);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: hardenedPodSpec({
      containerName: WORKSPACE_CONTAINER,
      image: spec.image,
      command: ['/bin/sh', '-c', spec.command.trim() === '' ? IDLE_COMMAND : spec.command],
      env: containerEnv(spec.env, spec.secretEnv, metadata.name),
      files: secretFilesVolume(spec.secretFiles, metadata.name, true),
    }),
  };
}

/** The Secret key a run's Pod mounts at this path (from its volume's items), if any. */
export function fileKeyOfPath(pod: V1Pod, secretName: string, path: string): string | undefined {
  const volume = (pod.spec?.volumes ?? []).find((v) => v.secret?.secretName === secretName);
  const mount = pod.spec?.containers.find((c) => c.name === WORKSPACE_CONTAINER)?.volumeMounts?.find((m) => m.name === volume?.name);
  if (volume === undefined || mount === undefined) return undefined;
  const prefix = `${mount.mountPath.replace(/\/$/, '')}/`;
  if (!path.startsWith(prefix)) return undefined;
  return volume.secret?.items?.find((item) => item.path === path.slice(prefix.length))?.key;
}
