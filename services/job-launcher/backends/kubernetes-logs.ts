/**
 * An attempt's output, read from its Job's pod: a plain read for a snapshot, a streamed
 * `follow=true` read (through the client's Log helper) until the container ends or the
 * reader goes away.
 */
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, Log, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { LogOptions } from '../backend.js';
import { CONTAINER_NAME } from './kubernetes-manifests.js';
import { newestFirst } from './kubernetes-status.js';

export interface AttemptLogSource {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  /** The Job's name (its pods carry the `job-name` label with it). */
  jobName: string;
  pollIntervalMs: number;
  /** Whether the Job has ended (or is gone), so a pod that has not started never will. */
  jobOver(): Promise<boolean>;
  /** Registers a stop function for close(); returns the unregister function. */
  track(stop: () => void): () => void;
  /** Turns an API failure into the error logs() throws (never with the response body). */
  failure(action: string, err: unknown): Error;
}

export async function* attemptLogs(source: AttemptLogSource, options: LogOptions): AsyncGenerator<Buffer> {
  const tailLines = options.tailLines ? options.tailLines : undefined;
  const cancelled = options.cancelled ?? (() => false);
  if (!options.follow) {
    const pod = await findPod(source);
    if (pod === undefined) return;
    const text = await readPodLog(source, pod, tailLines);
    if (text !== '') yield Buffer.from(text, 'utf8');
    return;
  }
  const pod = await waitForStartedPod(source, cancelled);
  if (pod === undefined) return;
  yield* followPodLog(source, pod, tailLines, cancelled);
}

/** The newest of the Job's pods, if it has one. */
async function findPod(source: AttemptLogSource): Promise<string | undefined> {
  const pods = await listPods(source);
  return newestFirst(pods)[0]?.metadata?.name;
}

async function listPods(source: AttemptLogSource): Promise<V1Pod[]> {
  try {
    const list = await source.core.listNamespacedPod({ namespace: source.namespace, labelSelector: `job-name=${source.jobName}` });
    return list.items;
  } catch (err) {
    throw source.failure('list the attempt\'s pods', err);
  }
}

/** A pod whose container has started (a Pending pod has no log to follow yet). */
async function waitForStartedPod(source: AttemptLogSource, cancelled: () => boolean): Promise<string | undefined> {
  while (!cancelled()) {
    const pod = newestFirst(await listPods(source))[0];
    if (pod !== undefined && pod.status?.phase !== 'Pending') return pod.metadata?.name;
    if (await source.jobOver()) return undefined;
    await sleep(source.pollIntervalMs);
  }
  return undefined;
}

async function readPodLog(source: AttemptLogSource, pod: string, tailLines: number | undefined): Promise<string> {
  try {
    return await source.core.readNamespacedPodLog({ name: pod, namespace: source.namespace, container: CONTAINER_NAME, tailLines });
  } catch (err) {
    // 400: the container has not started; 404: the pod is gone. Either way there is no output.
    if (err instanceof ApiException && (err.code === 400 || err.code === 404)) return '';
    throw source.failure('read the attempt\'s log', err);
  }
}

async function* followPodLog(source: AttemptLogSource, pod: string, tailLines: number | undefined, cancelled: () => boolean): AsyncGenerator<Buffer> {
  const sink = new PassThrough();
  // Aborting the request makes the response body emit 'error', and pipe() leaves that to the
  // reader: without a listener it would be an uncaught exception.
  sink.on('pipe', (src: Readable) => src.on('error', () => sink.end()));
  let request: AbortController | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    // Before the request exists, ending the sink would make the coming pipe() write after end.
    if (request === undefined) return;
    request.abort();
    sink.end();
  };
  const untrack = source.track(stop);
  const watchdog = setInterval(() => {
    if (cancelled()) stop();
  }, source.pollIntervalMs);
  try {
    try {
      request = await new Log(source.kubeConfig).log(source.namespace, pod, CONTAINER_NAME, sink, { follow: true, tailLines });
    } catch (err) {
      if (err instanceof ApiException && (err.code === 400 || err.code === 404)) return;
      throw source.failure('follow the attempt\'s log', err);
    }
    if (stopped) return;
    // In client-node 1.4.0 Log.log's done callback never fires: the end of the piped stream
    // is the only signal that the container's output is complete.
    for await (const chunk of sink) {
      yield chunk as Buffer;
      if (cancelled()) return;
    }
  } finally {
    clearInterval(watchdog);
    untrack();
    request?.abort();
    sink.destroy();
  }
}
