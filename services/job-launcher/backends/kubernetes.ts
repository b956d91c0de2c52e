/**
 * The Kubernetes job backend (DESIGN.md §5). Per attempt: an immutable Opaque Secret holding
 * only that attempt's values, then a batch/v1 Job reading them through secretKeyRef, then an
 * ownerReference from the Secret to the Job so garbage collection removes both together.
 *
 * Cancellation is recorded on the Job itself, so it survives restarts of the launcher:
 * terminate() merge-patches the annotation `secrets.vessl.ai/cancelled: "true"` together with
 * `spec.activeDeadlineSeconds: 1`. The Job controller then kills the pod and marks the Job
 * Failed (DeadlineExceeded), which makes it "finished": ttlSecondsAfterFinished collects it
 * later, and its Secret with it. (Suspending instead would stop the pod too, but a suspended
 * Job never finishes, so neither it nor its Secret would ever be collected.) The Secret is
 * also deleted right away: a cancelled attempt has no further use for its values. (Its log
 * is masked with them, but the Job controller deletes the pod, and the log with it.)
 *
 * Logs are masked with the values in the attempt's Secret, read when the log is asked for
 * (kubernetes-logs.ts). A log whose Secret cannot be read is refused (FAILED_PRECONDITION),
 * never served unmasked.
 *
 * Kubernetes API error bodies can echo what was sent (including values), so they are never
 * logged nor put in an error: only the HTTP code and the Status reason are.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Job, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../runtime/logger.js';
import { BackendError, BackendPreconditionError, type AttemptHandle, type AttemptSpec, type AttemptStatus, type JobBackend, type LogOptions } from '../backend.js';
import { attemptLogs } from './kubernetes-logs.js';
import {
  attemptObjectName,
  attemptSecretValues,
  attemptSpecProblem,
  buildAttemptJob,
  buildAttemptSecret,
  cancelPatch,
  jobReadsSecret,
  KUBERNETES_FILE_ROOTS,
  ownerReferencePatch,
} from './kubernetes-manifests.js';
import { JOB_GONE_MESSAGE, attemptStatusOfJob, finishedCondition, isCancelled, statusNeedsPods } from './kubernetes-status.js';

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  /** The namespace an org's attempts run in. */
  namespace: (org: string) => string;
  log?: Logger;
  /** How often a follow waits for the pod to start, and checks `cancelled()`. */
  pollIntervalMs?: number;
}

/** Our patches are RFC 7386 merge patches (the generated client would otherwise send JSON Patch). */
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const LOG_VALUES_GONE_MESSAGE =
  'the log cannot be shown: the secret values it must be masked with are gone (the attempt\'s Kubernetes Secret was deleted, as it is when an attempt is cancelled)';
export const LOG_VALUES_FORBIDDEN_MESSAGE =
  'the log cannot be shown: the job launcher may not read the attempt\'s Kubernetes Secret, whose values it must be masked with';

/**
 * The production KubeConfig: $KUBECONFIG, ~/.kube/config, or the pod's service account.
 * Fails instead of silently falling back to http://localhost:8080 as loadFromDefault would.
 */
export function kubeConfigFromEnvironment(): KubeConfig {
  const hasSource = Boolean(process.env.KUBECONFIG) || existsSync(path.join(homedir(), '.kube', 'config')) || existsSync(SERVICE_ACCOUNT_TOKEN);
  if (!hasSource) throw new Error('no Kubernetes configuration: set KUBECONFIG, provide ~/.kube/config, or run inside a cluster');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

export function createKubernetesBackend(opts: KubernetesBackendOptions): JobBackend {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const batch = opts.kubeConfig.makeApiClient(BatchV1Api);
  const pollIntervalMs = opts.pollIntervalMs ?? 1_000;
  const followers = new Set<() => void>();

  interface Target {
    namespace: string;
    name: string;
  }

  /** Log fields for an object (`name` would clash with the logger's own name field). */
  const fieldsOf = (target: Target) => ({ namespace: target.namespace, object: target.name });

  /** Logs a failed call by code and reason only, and returns the error to throw. */
  function failure(action: string, object: string, target: Target, err: unknown): BackendError {
    const { code, reason } = apiErrorSummary(err);
    opts.log?.warn({ ...fieldsOf(target), code, reason }, `Kubernetes: could not ${action}`);
    if (code === undefined) return new BackendError(`could not ${action}: ${reason}`, `the Kubernetes API could not be reached to ${action}`);
    const answer = reason === undefined ? `${code}` : `${code} ${reason}`;
    const already = code === 409 ? ': this attempt was already launched' : '';
    return new BackendError(`could not ${action}: ${answer}`, `the Kubernetes API refused ${object} (${answer})${already}`);
  }

  /** Deletes what a failed launch created; a leftover is logged loudly since it holds values. */
  async function removeLaunchLeftovers(target: Target, deleteJob: boolean): Promise<void> {
    if (deleteJob) {
      await ignoreNotFound(batch.deleteNamespacedJob({ ...target, propagationPolicy: 'Background' })).catch((err: unknown) => {
        opts.log?.error({ ...fieldsOf(target), ...apiErrorSummary(err) }, 'Kubernetes: could not delete the Job of a failed launch');
      });
    }
    await ignoreNotFound(core.deleteNamespacedSecret(target)).catch((err: unknown) => {
      opts.log?.error({ ...fieldsOf(target), ...apiErrorSummary(err) }, 'Kubernetes: could not delete the Secret of a failed launch; it must be removed by hand');
    });
  }

  async function launch(spec: AttemptSpec): Promise<{ ref: string }> {
    const problem = attemptSpecProblem(spec);
    if (problem !== undefined) throw new BackendError(`cannot launch on Kubernetes: ${problem}`, `the job cannot run on Kubernetes: ${problem}`);
    const namespace = opts.namespace(spec.org);
    const target = { namespace, name: attemptObjectName(spec.jobId, spec.attempt) };

    try {
      await core.createNamespacedSecret({ namespace, body: buildAttemptSecret(spec, namespace) });
    } catch (err) {
      // A 409 means this attempt's Secret exists already, possibly in use by its Job: leave it.
      throw failure('create the attempt\'s Secret', 'the Secret', target, err);
    }

    let job: V1Job;
    try {
      job = await batch.createNamespacedJob({ namespace, body: buildAttemptJob(spec, namespace) });
    } catch (err) {
      // Only when the API did not answer may a Job exist; a 409 Job is not ours to delete.
      await removeLaunchLeftovers(target, !(err instanceof ApiException));
      throw failure('create the attempt\'s Job', 'the Job', target, err);
    }

    try {
      const uid = job.metadata?.uid;
      if (uid === undefined) throw new Error('the created Job has no uid');
      await core.patchNamespacedSecret({ ...target, body: ownerReferencePatch({ name: target.name, uid }) }, MERGE_PATCH);
    } catch (err) {
      await removeLaunchLeftovers(target, true);
      throw failure('make the Job own its Secret', 'making the Job own its Secret', target, err);
    }

    opts.log?.info({ ...fieldsOf(target), org: spec.org, jobId: spec.jobId, attempt: spec.attempt, injected: spec.secretEnv.map((s) => s.name), files: (spec.secretFiles ?? []).map((f) => f.path) }, 'Kubernetes: attempt launched');
    return { ref: target.name };
  }

  function targetOf(handle: AttemptHandle): Target {
    return { namespace: opts.namespace(handle.org), name: handle.ref };
  }

  /** The attempt's Job, or undefined once it is gone. */
  async function readJob(target: Target): Promise<V1Job | undefined> {
    try {
      return await batch.readNamespacedJob(target);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw failure('read the attempt\'s Job', 'reading the Job', target, err);
    }
  }

  async function listAttemptPods(target: Target): Promise<V1Pod[]> {
    try {
      return (await core.listNamespacedPod({ namespace: target.namespace, labelSelector: `job-name=${target.name}` })).items;
    } catch (err) {
      // The Job alone still gives the state; only the exit code or waiting reason is missing.
      opts.log?.warn({ ...fieldsOf(target), ...apiErrorSummary(err) }, 'Kubernetes: could not list the attempt\'s pods');
      return [];
    }
  }

  async function status(handle: AttemptHandle): Promise<AttemptStatus> {
    const target = targetOf(handle);
    const job = await readJob(target);
    if (job === undefined) return { state: 'FAILED', message: JOB_GONE_MESSAGE };
    const pods = statusNeedsPods(job) ? await listAttemptPods(target) : [];
    return attemptStatusOfJob(job, pods);
  }

  async function terminate(handle: AttemptHandle): Promise<void> {
    const target = targetOf(handle);
    const job = await readJob(target);
    if (job === undefined) return;
    if (!isCancelled(job)) {
      if (finishedCondition(job) !== undefined) return; // it ended by itself: nothing to stop
      try {
        await batch.patchNamespacedJob({ ...target, body: cancelPatch() }, MERGE_PATCH);
      } catch (err) {
        if (isNotFound(err)) return;
        throw failure('cancel the attempt\'s Job', 'cancelling the Job', target, err);
      }
      opts.log?.info({ ...fieldsOf(target), jobId: handle.jobId, attempt: handle.attempt }, 'Kubernetes: attempt cancelled');
    }
    await ignoreNotFound(core.deleteNamespacedSecret(target)).catch((err: unknown) => {
      // The Job's garbage collection still removes it later.
      opts.log?.warn({ ...fieldsOf(target), ...apiErrorSummary(err) }, 'Kubernetes: could not delete a cancelled attempt\'s Secret');
    });
  }

  /**
   * The values the attempt's log is masked with: those of its own Secret, read now. Where the
   * Secret cannot be read the log is refused; retrying will not bring the values back.
   */
  async function maskingValues(target: Target): Promise<Buffer[]> {
    let secret: V1Secret;
    try {
      secret = await core.readNamespacedSecret(target);
    } catch (err) {
      if (isNotFound(err)) return valuesOfMissingSecret(target);
      if (!(err instanceof ApiException && err.code === 403)) throw failure('read the attempt\'s Secret', 'reading the Secret', target, err);
      opts.log?.error({ ...fieldsOf(target), code: err.code }, 'Kubernetes: may not read an attempt\'s Secret to mask its log (get on secrets is missing from the RBAC role); the log is refused');
      throw new BackendPreconditionError('could not read the attempt\'s Secret to mask its log: 403', LOG_VALUES_FORBIDDEN_MESSAGE, 'LOG_MASKING_VALUES_FORBIDDEN');
    }
    return attemptSecretValues(secret);
  }

  /** A gone Secret takes its values with it, unless the Job never read any from it. */
  async function valuesOfMissingSecret(target: Target): Promise<Buffer[]> {
    const job = await readJob(target);
    if (job !== undefined && !jobReadsSecret(job, target.name)) return [];
    opts.log?.warn(fieldsOf(target), 'Kubernetes: the Secret of an attempt is gone; its log is refused rather than served unmasked');
    throw new BackendPreconditionError('the attempt\'s Secret is gone: its log cannot be masked', LOG_VALUES_GONE_MESSAGE, 'LOG_MASKING_VALUES_GONE');
  }

  function logs(handle: AttemptHandle, options: LogOptions): AsyncIterable<Buffer> {
    const target = targetOf(handle);
    return attemptLogs(
      {
        kubeConfig: opts.kubeConfig,
        core,
        namespace: target.namespace,
        jobName: target.name,
        pollIntervalMs,
        jobOver: async () => {
          const job = await readJob(target);
          return job === undefined || isCancelled(job) || finishedCondition(job) !== undefined;
        },
        maskingValues: () => maskingValues(target),
        track: (stop) => {
          followers.add(stop);
          return () => followers.delete(stop);
        },
        failure: (action, err) => failure(action, 'the log request', target, err),
      },
      options,
    );
  }

  async function close(): Promise<void> {
    for (const stop of followers) stop();
    followers.clear();
  }

  return { name: 'kubernetes', secretFiles: { roots: KUBERNETES_FILE_ROOTS }, launch, status, terminate, logs, close };
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * What may be said about a failed call: the HTTP code and the Status reason (a CamelCase
 * enum such as Invalid or AlreadyExists). Never the message, which can quote the request.
 */
export function apiErrorSummary(err: unknown): { code?: number; reason?: string } {
  if (err instanceof ApiException) {
    const body = statusObject(err.body);
    const reason = body !== undefined && 'reason' in body ? body.reason : undefined;
    return { code: err.code, reason: typeof reason === 'string' && /^[A-Za-z]{1,64}$/.test(reason) ? reason : undefined };
  }
  const errno = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  const name = err instanceof Error ? err.name : 'unknown error';
  return { reason: errno !== undefined && /^[A-Z_]{1,32}$/.test(errno) ? `${name} ${errno}` : name };
}

/** The client hands over an error body as raw text (or parsed, for the Log helper). */
function statusObject(body: unknown): object | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
}
