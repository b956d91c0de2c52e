/**
 * From a Job (and its pod, when it tells more) to an AttemptStatus. Pure, so every mapping
 * can be tested from objects alone. Messages are built from Kubernetes' enum-like reasons
 * only, never from free text a controller or kubelet wrote.
 */
import type { V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';
import type { AttemptStatus } from '../backend.js';
import { ANNOTATION_CANCELLED, CONTAINER_NAME } from './kubernetes-manifests.js';

export const JOB_GONE_MESSAGE = 'the Kubernetes Job no longer exists';

/** Whether the Job's pods matter for its status (exit code of a failure, why a start waits). */
export function statusNeedsPods(job: V1Job): boolean {
  const finished = finishedCondition(job);
  if (finished?.type === 'Complete' || isCancelled(job)) return false;
  return finished?.type === 'Failed' || isStarted(job);
}

export function attemptStatusOfJob(job: V1Job, pods: V1Pod[] = []): AttemptStatus {
  const status = job.status ?? {};
  const startTime = status.startTime;
  const finished = finishedCondition(job);
  if (finished?.type === 'Complete') {
    return { state: 'SUCCEEDED', exitCode: 0, startTime, endTime: status.completionTime ?? finished.lastTransitionTime };
  }
  if (isCancelled(job)) {
    return { state: 'CANCELLED', message: 'the attempt was cancelled', startTime, endTime: finished?.lastTransitionTime };
  }
  if (finished?.type === 'Failed') {
    const exitCode = terminatedExitCode(pods);
    const message = exitCode === undefined ? failureMessage(finished.reason) : `the command exited with code ${exitCode}`;
    return { state: 'FAILED', exitCode, message, startTime, endTime: finished.lastTransitionTime };
  }
  if (!isStarted(job)) return { state: 'PENDING' };
  const waiting = waitingReason(pods);
  return waiting === undefined ? { state: 'RUNNING', startTime } : { state: 'RUNNING', startTime, message: `the container is waiting (${waiting})` };
}

export function isCancelled(job: V1Job): boolean {
  return job.metadata?.annotations?.[ANNOTATION_CANCELLED] === 'true';
}

/** The Complete or Failed condition when it is True: the Job will not change any more. */
export function finishedCondition(job: V1Job): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

function isStarted(job: V1Job): boolean {
  return (job.status?.active ?? 0) > 0 || job.status?.startTime !== undefined;
}

function failureMessage(reason: string | undefined): string {
  switch (reason) {
    case 'DeadlineExceeded':
      return 'the Kubernetes Job ran past its deadline (DeadlineExceeded)';
    case 'BackoffLimitExceeded':
      return 'the Kubernetes Job failed (BackoffLimitExceeded)';
    default:
      return `the Kubernetes Job failed (${safeReason(reason)})`;
  }
}

/** Reasons are CamelCase identifiers; anything else is not repeated. */
export function safeReason(reason: string | undefined): string {
  return reason !== undefined && /^[A-Za-z]{1,64}$/.test(reason) ? reason : 'no reason given';
}

function ourContainerStatuses(pods: V1Pod[]) {
  return newestFirst(pods).flatMap((p) => (p.status?.containerStatuses ?? []).filter((c) => c.name === CONTAINER_NAME));
}

function terminatedExitCode(pods: V1Pod[]): number | undefined {
  return ourContainerStatuses(pods).find((c) => c.state?.terminated !== undefined)?.state?.terminated?.exitCode;
}

function waitingReason(pods: V1Pod[]): string | undefined {
  const reason = ourContainerStatuses(pods)[0]?.state?.waiting?.reason;
  return reason === undefined ? undefined : safeReason(reason);
}

/** The attempt's pods, newest first (backoffLimit 0 makes one pod the rule). */
export function newestFirst(pods: V1Pod[]): V1Pod[] {
  const time = (p: V1Pod) => p.metadata?.creationTimestamp?.getTime() ?? 0;
  return [...pods].sort((a, b) => time(b) - time(a));
}
