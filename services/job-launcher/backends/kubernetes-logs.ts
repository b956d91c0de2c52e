/**
 * An attempt's output, read from its Job's pod and masked before a byte of it leaves: a plain
 * read for a snapshot, a streamed `follow=true` read until the container ends or the reader
 * goes away. Both go through the client's Log helper, which hands over the response body as
 * bytes (readNamespacedPodLog would decode it as UTF-8 and turn a value's invalid bytes into
 * U+FFFD, so that the value no longer matches).
 *
 * The masking values are read from the attempt's own Secret each time a log is asked for, and
 * forgotten when it has been served: the backend keeps no value beyond the attempt's life, and
 * a restarted launcher masks as well as the one that launched. Where they cannot be had, the
 * log is not served (DESIGN.md §5: the log is masked before it is served).
 *
 * Masking works on the bytes the container wrote (the kubelet serves them as they are), so a
 * value that is not UTF-8 is matched byte for byte; a runtime that rewrote such bytes would
 * also have rewritten the value, and what it wrote is then not the value.
 *
 * The masker holds back a suffix that could begin a value. It is emitted only when the log is
 * complete: the container has ended and the API sent everything. A read of a running
 * container, or a follow that stopped early, leaves it out, since the container may be in the
 * middle of writing a value.
 *
 * tailLines: the API server cuts its tail at line starts, so a form of a value without a line
 * break is inside the tail whole or not at all. A form with line breaks (a multi-line value,
 * base64 wrapped at 64 or 76 columns) can start before the cut, and the masker cannot know
 * what it did not see. So the API is asked for `tailContextLines` more lines, enough for any
 * such form that reaches into the tail to start inside what is read, and the masker sees them
 * all. A plain read then keeps the last tailLines lines of the masked text (as the local
 * backend does: it tails its masked file). A follow cannot tell where the lines already
 * written end and new ones begin, so it shows the context lines too: it starts up to that
 * many lines earlier than asked, which is 0 unless a value is longer than 48 bytes or has
 * line breaks.
 */
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, Log, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { LogOptions } from '../backend.js';
import { CONTAINER_NAME } from './kubernetes-manifests.js';
import { newestFirst } from './kubernetes-status.js';
import { LogMasker } from './log-masker.js';

export interface AttemptLogSource {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  /** The Job's name (its pods carry the `job-name` label with it). */
  jobName: string;
  pollIntervalMs: number;
  /** Whether the Job has ended (or is gone), so a pod that has not started never will. */
  jobOver(): Promise<boolean>;
  /**
   * The values the attempt's log is masked with, read now; the caller zeroes them when done.
   * Throws when they cannot be had: the log is then not served at all.
   */
  maskingValues(): Promise<Uint8Array[]>;
  /** Registers a stop function for close(); returns the unregister function. */
  track(stop: () => void): () => void;
  /** Turns an API failure into the error logs() throws (never with the response body). */
  failure(action: string, err: unknown): Error;
}

/** Base64 is wrapped at 64 or 76 columns; the narrower wrap breaks a value's encoding most often. */
const NARROWEST_BASE64_WRAP = 64;
const NEWLINE = 0x0a;

export async function* attemptLogs(source: AttemptLogSource, options: LogOptions): AsyncGenerator<Buffer> {
  const tailLines = options.tailLines ? options.tailLines : undefined;
  const cancelled = options.cancelled ?? (() => false);
  const pod = options.follow ? await waitForStartedPod(source, cancelled) : await findPod(source);
  const podName = pod?.metadata?.name;
  if (pod === undefined || podName === undefined) return;
  const values = await source.maskingValues();
  const masker = new LogMasker(values);
  let maskerEnded = false;
  try {
    // A plain read of the last lines is cut after masking; anything else streams as it comes.
    const cutsTail = !options.follow && tailLines !== undefined;
    const asked = tailLines === undefined ? undefined : tailLines + tailContextLines(values);
    const sent: PodLogEnd = { all: false };
    const masked: Buffer[] = [];
    for await (const chunk of podLogBytes(source, podName, { follow: options.follow, tailLines: asked }, cancelled, sent)) {
      const safe = masker.push(chunk);
      if (cutsTail) masked.push(safe);
      else if (safe.length > 0) yield safe;
    }
    const complete = sent.all && (options.follow ? await podEnded(source, podName) : hasEnded(pod));
    maskerEnded = true;
    const held = masker.end();
    if (complete) masked.push(held);
    const rest = cutsTail ? lastLines(Buffer.concat(masked), tailLines) : Buffer.concat(masked);
    if (rest.length > 0) yield rest;
  } finally {
    // On every way out (a reader that left, an error) the masker forgets the values.
    if (!maskerEnded) masker.end();
    for (const value of values) value.fill(0);
  }
}

/** Set by podLogBytes: whether the API ended the response itself, rather than an abort or error. */
interface PodLogEnd {
  all: boolean;
}

/** Its container has ended, so its log will not grow (restartPolicy Never: it is not restarted). */
function hasEnded(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** After a follow ended: whether the pod's container has ended too, or the pod is gone with it. */
async function podEnded(source: AttemptLogSource, name: string): Promise<boolean> {
  try {
    const pod = (await listPods(source)).find((p) => p.metadata?.name === name);
    return pod === undefined || hasEnded(pod);
  } catch {
    return false; // not known to be complete: what is held back stays back
  }
}

/**
 * How many lines before a tail a form of one of these values can start and still reach into
 * it: the most line breaks a form holds, the value's own or those of its base64 wrapped at the
 * narrowest width. (An encoding that starts mid-line, inside a longer encoded text, can break
 * once more; the masker masks wrapped encodings of the value itself, which start a line.)
 */
export function tailContextLines(values: readonly Uint8Array[]): number {
  let lines = 0;
  for (const value of values) {
    const breaks = value.reduce((n, byte) => (byte === NEWLINE ? n + 1 : n), 0);
    const wrappedLines = Math.ceil((4 * Math.ceil(value.length / 3)) / NARROWEST_BASE64_WRAP);
    lines = Math.max(lines, breaks, wrappedLines - 1);
  }
  return lines;
}

/** The last `count` lines of `text` (a final newline ends the last line, as the API counts). */
export function lastLines(text: Buffer, count: number): Buffer {
  let seen = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    if (text[i] !== NEWLINE || i === text.length - 1) continue;
    if (++seen === count) return text.subarray(i + 1);
  }
  return text;
}

/** The newest of the Job's pods, if it has one. */
async function findPod(source: AttemptLogSource): Promise<V1Pod | undefined> {
  return newestFirst(await listPods(source))[0];
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
async function waitForStartedPod(source: AttemptLogSource, cancelled: () => boolean): Promise<V1Pod | undefined> {
  const started = (pod: V1Pod | undefined) => (pod !== undefined && pod.status?.phase !== 'Pending' ? pod : undefined);
  while (!cancelled()) {
    const pod = started(await findPod(source));
    if (pod !== undefined) return pod;
    // A Job that ended since the listing may have run its pod in between: look once more.
    if (await source.jobOver()) return started(await findPod(source));
    await sleep(source.pollIntervalMs);
  }
  return undefined;
}

/** The container's output as the API sends it: all of it, or until the reader stops following. */
async function* podLogBytes(
  source: AttemptLogSource,
  pod: string,
  query: { follow: boolean; tailLines?: number },
  cancelled: () => boolean,
  sent: PodLogEnd,
): AsyncGenerator<Buffer> {
  const sink = new PassThrough();
  let stopped = false;
  // Aborting the request makes the response body emit 'error', and pipe() leaves that to the
  // reader: without a listener it would be an uncaught exception.
  sink.on('pipe', (src: Readable) =>
    src.on('error', () => {
      stopped = true;
      sink.end();
    }),
  );
  let request: AbortController | undefined;
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
      request = await new Log(source.kubeConfig).log(source.namespace, pod, CONTAINER_NAME, sink, query);
    } catch (err) {
      // 204: the pod is not on a node yet (the API server has no kubelet to ask); 400: its
      // container has not started; 404: the pod is gone. Either way there is no output.
      if (err instanceof ApiException && (err.code === 204 || err.code === 400 || err.code === 404)) return;
      throw source.failure(query.follow ? 'follow the attempt\'s log' : 'read the attempt\'s log', err);
    }
    if (stopped) return;
    // In client-node 1.4.0 Log.log's done callback never fires: the end of the piped stream
    // is the only signal that the container's output is complete.
    for await (const chunk of sink) {
      yield chunk as Buffer;
      if (cancelled()) return;
    }
    sent.all = !stopped;
  } finally {
    clearInterval(watchdog);
    untrack();
    request?.abort();
    sink.destroy();
  }
}
