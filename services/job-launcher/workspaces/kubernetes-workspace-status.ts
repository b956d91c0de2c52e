/**
 * From a run's Pod to a WorkspaceStatus. Pure, so every mapping is tested from objects alone.
 * Messages are built from Kubernetes' enum-like reasons only (safeReason), never from free text
 * a kubelet or scheduler wrote.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { safeReason } from '../backends/kubernetes-status.js';
import { WORKSPACE_CONTAINER } from './kubernetes-workspace-manifests.js';
import type { WorkspaceStatus } from './workspace-backend.js';

export const POD_GONE_MESSAGE = 'its pod was deleted';
export const NOT_SCHEDULED_MESSAGE = 'its pod is not scheduled on a node yet';

/** The run's state; `pod` undefined: the Pod no longer exists. */
export function workspaceStatusOfPod(pod: V1Pod | undefined): WorkspaceStatus {
  if (pod === undefined || pod.metadata?.deletionTimestamp !== undefined) return { state: 'STOPPED', message: POD_GONE_MESSAGE };
  const container = (pod.status?.containerStatuses ?? []).find((c) => c.name === WORKSPACE_CONTAINER);
  const startTime = container?.state?.running?.startedAt ?? container?.state?.terminated?.startedAt ?? pod.status?.startTime;
  const terminated = container?.state?.terminated;
  switch (pod.status?.phase) {
    case 'Running':
      return { state: 'RUNNING', startTime };
    case 'Succeeded':
      return { state: 'STOPPED', exitCode: 0, message: 'its command exited with status 0', startTime, endTime: terminated?.finishedAt };
    case 'Failed':
      return terminated === undefined
        ? { state: 'FAILED', message: `its pod failed (${safeReason(pod.status?.reason)})`, startTime }
        : { state: 'FAILED', exitCode: terminated.exitCode, message: `its command exited with status ${terminated.exitCode}`, startTime, endTime: terminated.finishedAt };
    case 'Unknown':
      // The node stopped reporting; the container may well still run.
      return { state: 'RUNNING', startTime, message: 'its node does not report the pod\'s state (Unknown)' };
    default:
      return { state: 'STARTING', message: startingMessage(pod, container) };
  }
}

function startingMessage(pod: V1Pod, container: V1ContainerStatus | undefined): string {
  if (pod.spec?.nodeName === undefined) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return scheduled === undefined ? NOT_SCHEDULED_MESSAGE : `${NOT_SCHEDULED_MESSAGE} (${safeReason(scheduled.reason)})`;
  }
  const waiting = container?.state?.waiting?.reason;
  return waiting === undefined ? 'its container is being started' : `its container is waiting (${safeReason(waiting)})`;
}
