/**
 * The Kubernetes objects one attempt is made of: an immutable Secret holding only that
 * attempt's values, and a batch/v1 Job that reads them through secretKeyRef (variables) and a
 * secret volume with items (files). Pure builders, so tests can compare the exact objects.
 * The pod, its Secret's data and its secret volume are built by pieces that a workspace's run
 * (workspaces/kubernetes-workspace-manifests.ts) shares: hardenedPodSpec, secretData,
 * containerEnv, secretFilesVolume, podInputProblem.
 */
import { createHash } from 'node:crypto';
import type { V1EnvVar, V1Job, V1OwnerReference, V1PodSpec, V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { secretFilePathProblems, SECRETS_DIR } from '../../runtime/secret-file-paths.js';
import type { AttemptSpec, EnvEntry, SecretEnvEntry, SecretFileEntry } from '../backend.js';

export const MANAGED_BY = 'vessl-secrets';
export const LABEL_JOB = 'secrets.vessl.ai/job';
export const LABEL_ATTEMPT = 'secrets.vessl.ai/attempt';
export const LABEL_ORG = 'secrets.vessl.ai/org';
/** The job id as the launcher knows it (ids are case-sensitive, so they cannot be a label). */
export const ANNOTATION_JOB_ID = 'secrets.vessl.ai/job-id';
/** Which secret and version each injected variable came from (never a value). */
export const ANNOTATION_SECRET_VERSIONS = 'secrets.vessl.ai/secret-versions';
/** Set by terminate(): the Job was stopped on purpose, so its failure reads as CANCELLED. */
export const ANNOTATION_CANCELLED = 'secrets.vessl.ai/cancelled';

/** The single container's name; logs are read from it. */
export const CONTAINER_NAME = 'job';
/** Finished Jobs (and, through ownerReferences, their Secrets) are collected after a day. */
export const TTL_SECONDS_AFTER_FINISHED = 86_400;
/** A non-root uid so that images built to run as root still start under runAsNonRoot. */
const RUN_AS_ID = 65_532;

/**
 * Where a pod gets secret files: one secret volume mounted read-only at /run/secrets, whose
 * items put each file at its path below it. Only there: a volume replaces the directory it is
 * mounted on, so one at the image's HOME (which the launcher does not know) would hide the
 * image's files; and subPath mounts, which would allow any directory, are never refreshed by
 * the kubelet.
 */
export const KUBERNETES_FILE_ROOTS = [SECRETS_DIR] as const;
export const SECRET_FILES_VOLUME = 'secret-files';
/** 0400 for each file (the kubelet adds group read for fsGroup, the job's group: see docs/isolation.md). */
export const SECRET_FILE_MODE = 0o400;

/** The Secret key of file i: never an env var name (those have no dash), so the two never clash. */
export const secretFileKey = (index: number) => `file-${index}`;

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * A job id as a DNS-1123 label fragment: the first 100 bits of SHA-256 in lowercase base32
 * (20 characters). Ids are case-sensitive (`j_AbC`), so lowercasing them would not be
 * injective; a hash is, for all practical purposes, and has a fixed length.
 */
export function jobKey(jobId: string): string {
  return base32Lower(createHash('sha256').update(jobId, 'utf8').digest()).slice(0, 20);
}

/** The name shared by an attempt's Secret and Job (≤ 38 characters: a valid label and subdomain). */
export function attemptObjectName(jobId: string, attempt: number): string {
  return `vessl-${jobKey(jobId)}-a${attempt}`;
}

export function attemptLabels(spec: Pick<AttemptSpec, 'org' | 'jobId' | 'attempt'>): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [LABEL_JOB]: jobKey(spec.jobId),
    [LABEL_ATTEMPT]: String(spec.attempt),
    [LABEL_ORG]: spec.org,
  };
}

/**
 * What makes a spec unusable before anything is created, in words (undefined: usable).
 * Checked up front so that a bad spec leaves nothing behind in the cluster.
 */
export function attemptSpecProblem(spec: AttemptSpec): string | undefined {
  if (!Number.isSafeInteger(spec.attempt) || spec.attempt < 0) return 'the attempt number must be a non-negative integer';
  return podInputProblem({ ...spec, secretFiles: filesOf(spec) }, 'job');
}

/** What a pod needs of its inputs (org label, image, variables, file paths), shared by jobs and workspaces. */
export interface PodInputs {
  org: string;
  image: string;
  env: readonly EnvEntry[];
  secretEnv: readonly SecretEnvEntry[];
  secretFiles: readonly SecretFileEntry[];
}

/** Why these inputs cannot make a pod, in words; `what` names the thing ("job", "workspace"). */
export function podInputProblem(spec: PodInputs, what: string): string | undefined {
  if (spec.org.length > 63 || !LABEL_VALUE.test(spec.org)) return 'the org name cannot be used as a Kubernetes label';
  if (spec.image.trim() === '') return `the ${what} has no image`;
  const seen = new Set<string>();
  for (const { name } of [...spec.env, ...spec.secretEnv]) {
    if (!C_IDENTIFIER.test(name)) return `environment variable name ${JSON.stringify(name)} is not a C identifier`;
    if (seen.has(name)) return `environment variable ${name} is set twice`;
    seen.add(name);
  }
  const files = spec.secretFiles;
  const [problem] = secretFilePathProblems(files.map((f) => f.path), KUBERNETES_FILE_ROOTS, (i) => `the file of secret "${files[i].secretName}"`);
  if (problem) return `secret file of "${files[problem.index].secretName}": ${problem.problem}`;
  return undefined;
}

function baseMetadata(spec: AttemptSpec, namespace: string) {
  // Keyed by variable name, or by path for a file (a path starts with "/": never a variable name).
  const secretVersions = Object.fromEntries([...spec.secretEnv.map((s) => [s.name, s] as const), ...filesOf(spec).map((f) => [f.path, f] as const)].map(([k, s]) => [k, { secret: s.secretName, version: s.version }]));
  return {
    name: attemptObjectName(spec.jobId, spec.attempt),
    namespace,
    labels: attemptLabels(spec),
    annotations: {
      [ANNOTATION_JOB_ID]: spec.jobId,
      [ANNOTATION_SECRET_VERSIONS]: JSON.stringify(secretVersions),
    },
  };
}

const filesOf = (spec: AttemptSpec): SecretFileEntry[] => spec.secretFiles ?? [];

/** The attempt's Secret: this attempt's values only, under their env var names (files: file-N), immutable. */
export function buildAttemptSecret(spec: AttemptSpec, namespace: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: baseMetadata(spec, namespace),
    type: 'Opaque',
    immutable: true,
    data: secretData(spec.secretEnv, filesOf(spec)),
  };
}

/**
 * Secret files as a pod gets them: a volume of the Secret whose items map each file's key to its
 * path under /run/secrets, and its mount. `optional` lets a key be missing from the Secret (the
 * kubelet then leaves that file out instead of failing the volume): a workspace's removed file.
 */
export function secretFilesVolume(files: readonly SecretFileEntry[], secretName: string, optional = false): { volumes: V1Volume[]; volumeMounts: V1VolumeMount[] } {
  if (files.length === 0) return { volumes: [], volumeMounts: [] };
  const items = files.map((f, i) => ({ key: secretFileKey(i), path: f.path.slice(SECRETS_DIR.length) }));
  return {
    volumes: [{ name: SECRET_FILES_VOLUME, secret: { secretName, items, defaultMode: SECRET_FILE_MODE, ...(optional ? { optional: true } : {}) } }],
    volumeMounts: [{ name: SECRET_FILES_VOLUME, mountPath: SECRETS_DIR.slice(0, -1), readOnly: true }],
  };
}

/** A Secret's data: each variable under its name, each file under file-N, base64 as the API wants it. */
export function secretData(secretEnv: readonly SecretEnvEntry[], files: readonly SecretFileEntry[]): Record<string, string> {
  return Object.fromEntries([
    ...secretEnv.map((s) => [s.name, Buffer.from(s.value).toString('base64')]),
    ...files.map((f, i) => [secretFileKey(i), Buffer.from(f.value).toString('base64')]),
  ]);
}

/** Plain variables as given, secret ones through secretKeyRef into the Secret of that name: no value in the pod. */
export function containerEnv(env: readonly EnvEntry[], secretEnv: readonly SecretEnvEntry[], secretName: string): V1EnvVar[] {
  return [...env.map((e) => ({ name: e.name, value: e.value })), ...secretEnv.map((s) => ({ name: s.name, valueFrom: { secretKeyRef: { name: secretName, key: s.name } } }))];
}

/**
 * The values an attempt's Secret holds, as bytes (its log is masked with them). The API server
 * leaves `data` out of a Secret that holds nothing, as it does of every empty map.
 */
export function attemptSecretValues(secret: V1Secret): Buffer[] {
  return Object.values(secret.data ?? {}).map((encoded) => Buffer.from(encoded, 'base64'));
}

/** Whether the Job's pod reads anything from the Secret of that name (env or volume). */
export function jobReadsSecret(job: V1Job, secretName: string): boolean {
  const pod = job.spec?.template.spec;
  const containers = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
  const fromEnv = containers.some(
    (c) => (c.env ?? []).some((e) => e.valueFrom?.secretKeyRef?.name === secretName) || (c.envFrom ?? []).some((e) => e.secretRef?.name === secretName),
  );
  const fromVolume = (pod?.volumes ?? []).some(
    (v) => v.secret?.secretName === secretName || (v.projected?.sources ?? []).some((source) => source.secret?.name === secretName),
  );
  return fromEnv || fromVolume;
}

/** The attempt's Job. It names the Secret's keys; no value ever appears in it. */
export function buildAttemptJob(spec: AttemptSpec, namespace: string): V1Job {
  const metadata = baseMetadata(spec, namespace);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: TTL_SECONDS_AFTER_FINISHED,
      template: {
        metadata: { labels: attemptLabels(spec) },
        spec: hardenedPodSpec({
          containerName: CONTAINER_NAME,
          image: spec.image,
          command: ['/bin/sh', '-c', spec.command],
          env: containerEnv(spec.env, spec.secretEnv, metadata.name),
          files: secretFilesVolume(filesOf(spec), metadata.name),
        }),
      },
    },
  };
}

/**
 * The pod every job attempt and workspace run gets: one container, never restarted, no
 * service account token, a fixed non-root user, no privilege, the default seccomp profile.
 */
export function hardenedPodSpec(pod: { containerName: string; image: string; command: string[]; env: V1EnvVar[]; files: { volumes: V1Volume[]; volumeMounts: V1VolumeMount[] } }): V1PodSpec {
  const { volumes, volumeMounts } = pod.files;
  return {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    // Service discovery variables would mix cluster details into the pod's environment.
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_ID,
      runAsGroup: RUN_AS_ID,
      // Secret files are root's; the kubelet gives this group read access to them.
      ...(volumes.length > 0 ? { fsGroup: RUN_AS_ID } : {}),
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(volumes.length > 0 ? { volumes } : {}),
    containers: [
      {
        name: pod.containerName,
        image: pod.image,
        command: pod.command,
        env: pod.env,
        ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
        securityContext: {
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
        },
      },
    ],
  };
}

/** Merge patch that makes the Job own the Secret, so garbage collection removes both together. */
export function ownerReferencePatch(job: { name: string; uid: string }): { metadata: { ownerReferences: V1OwnerReference[] } } {
  return {
    metadata: {
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid, controller: false, blockOwnerDeletion: false }],
    },
  };
}

/** Merge patch for terminate(): mark the Job cancelled and give it a deadline that has passed. */
export function cancelPatch(): { metadata: { annotations: Record<string, string> }; spec: { activeDeadlineSeconds: number } } {
  return { metadata: { annotations: { [ANNOTATION_CANCELLED]: 'true' } }, spec: { activeDeadlineSeconds: 1 } };
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32Lower(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let buffer = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}
