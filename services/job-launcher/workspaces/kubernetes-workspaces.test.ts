/**
 * The Kubernetes workspace backend where a real API server cannot be made to fail on purpose
 * (injected 5xx, answers that quote a value), against the fake API server; and the pure
 * mappings (pod to status, exec status to exit, volume items to keys) as tables.
 * What the real API server stores and allows is in kubernetes-workspaces-real.test.ts.
 */
import { expect } from 'chai';
import type { V1Pod, V1Status } from '@kubernetes/client-node';
import { FakeKubeApi } from '../../../test/support/fake-kube-api.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { PLAINTEXT, rejection } from '../../../test/support/kube-attempts.js';
import { workspaceHandleOf, workspaceSpec } from '../../../test/support/kube-workspaces.js';
import { until } from '../../../test/support/until.js';
import { BackendError, BackendPreconditionError } from '../backend.js';
import { createKubernetesWorkspaceBackend, NOT_RUNNING_MESSAGE } from './kubernetes-workspaces.js';
import { exitOfStatus, refusedExecCode } from './kubernetes-workspace-exec.js';
import { buildRunPod, fileKeyOfPath } from './kubernetes-workspace-manifests.js';
import { workspaceStatusOfPod } from './kubernetes-workspace-status.js';
import type { WorkspaceBackend, WorkspaceHandle, WorkspaceStatus } from './workspace-backend.js';

const NS = 'ws-acme';
/** What an API server's error message may quote: the request, values included. */
const ECHO = `the request was ${PLAINTEXT}`;

describe('Kubernetes workspace backend against the fake API server (faults)', () => {
  let fake: FakeKubeApi;
  let backend: WorkspaceBackend;
  let logged: string[];

  beforeEach(async () => {
    fake = await FakeKubeApi.start();
    const { lines, log } = captureLog('k8s-ws-test');
    logged = lines;
    backend = createKubernetesWorkspaceBackend({ kubeConfig: fake.kubeConfig(), namespace: (org) => `ws-${org}`, log, pollIntervalMs: 20 });
  });

  afterEach(async () => {
    await backend.close();
    await fake.close();
  });

  const noValueAnywhere = (err: unknown) => {
    expect((err as BackendError).message).not.to.include(PLAINTEXT);
    expect((err as BackendError).publicMessage).not.to.include(PLAINTEXT);
    expect(logged.join('')).not.to.include(PLAINTEXT);
  };

  /** A run whose pod the kubelet reports Running (the fake neither schedules nor runs pods). */
  async function running(run = 1): Promise<WorkspaceHandle> {
    const s = workspaceSpec({ run });
    const handle = workspaceHandleOf(s, (await backend.start(s)).ref);
    fake.setPodStatus(NS, handle.ref, { phase: 'Running', containerStatuses: [{ name: 'workspace', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }] });
    return handle;
  }

  it('names the namespace per org through the function it is given', async () => {
    await backend.start(workspaceSpec());
    expect(fake.requestsTo('POST', /^\/api\/v1\/namespaces\/ws-acme\/(configmaps|secrets|pods)$/).map((r) => r.path.split('/').pop())).to.deep.equal(['configmaps', 'secrets', 'pods']);
  });

  const startFaults: [string, RegExp, number, string][] = [
    ['the Pod is refused (500)', /\/pods$/, 500, 'the Kubernetes API refused to create the run\'s Pod (500 InternalError)'],
    ['the Pod is invalid (422)', /\/pods$/, 422, 'the Kubernetes API refused to create the run\'s Pod (422 Invalid)'],
    ['the Secret is refused (503)', /\/secrets$/, 503, 'the Kubernetes API refused to create the run\'s Secret (503 ServiceUnavailable)'],
    ['the ConfigMap is refused (403)', /\/configmaps$/, 403, 'the Kubernetes API refused to create the workspace\'s ConfigMap (403 Forbidden)'],
  ];
  for (const [what, path, code, message] of startFaults) {
    it(`start leaves no Secret and no Pod when ${what}, and repeats nothing the server said`, async () => {
      fake.failNext('POST', path, code, ECHO);
      const err = await rejection(backend.start(workspaceSpec()));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal(message);
      expect(fake.all('Secret')).to.deep.equal([]);
      expect(fake.all('Pod')).to.deep.equal([]);
      noValueAnywhere(err);
    });
  }

  it('stop still deletes the Secret when deleting the Pod fails, and says what failed', async () => {
    const handle = await running();
    fake.failNext('DELETE', /\/pods\//, 500, ECHO);
    const err = await rejection(backend.stop(handle));
    expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused to delete the workspace\'s Pod (500 InternalError)');
    expect(fake.secret(NS, handle.ref)).to.equal(undefined);
    expect(fake.pod(NS, handle.ref)).to.not.equal(undefined);
    await backend.stop(handle);
    expect(fake.pod(NS, handle.ref)).to.equal(undefined);
    noValueAnywhere(err);
  });

  it('remove deletes the ConfigMap in the background (the garbage collector takes the runs) and is idempotent', async () => {
    const handle = await running();
    await backend.remove('acme', handle.workspaceId);
    const [request] = fake.requestsTo('DELETE', /\/configmaps\//);
    expect(request.query.get('propagationPolicy') ?? (request.body as { propagationPolicy?: string } | undefined)?.propagationPolicy).to.equal('Background');
    expect(fake.pod(NS, handle.ref)).to.equal(undefined);
    expect(fake.secret(NS, handle.ref)).to.equal(undefined);
    await backend.remove('acme', handle.workspaceId);
  });

  it('writeFile sends a merge patch of that one key only, and a refused patch repeats nothing', async () => {
    const handle = await running();
    await backend.writeFile(handle, { path: '/run/secrets/tls/key.pem', value: Buffer.from('new-pem'), secretName: 'tls-key', version: 3 });
    const [patch] = fake.requestsTo('PATCH', /\/secrets\//);
    expect(patch.contentType).to.equal('application/merge-patch+json');
    expect(patch.body).to.deep.equal({ data: { 'file-0': Buffer.from('new-pem').toString('base64') } });

    fake.failNext('PATCH', /\/secrets\//, 500, ECHO);
    const err = await rejection(backend.writeFile(handle, { path: '/run/secrets/tls/key.pem', value: Buffer.from(PLAINTEXT), secretName: 'tls-key', version: 4 }));
    expect(err).to.be.instanceOf(BackendError).and.not.to.be.instanceOf(BackendPreconditionError);
    expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused to rewrite a secret file in the run\'s Secret (500 InternalError)');
    noValueAnywhere(err);
  });

  it('removeFile sends null for the key, and a run whose Secret is gone is not running', async () => {
    const handle = await running();
    await backend.removeFile(handle, '/run/secrets/blob.bin');
    expect(fake.requestsTo('PATCH', /\/secrets\//)[0].body).to.deep.equal({ data: { 'file-1': null } });
    expect(Object.keys((fake.secret(NS, handle.ref)!.data as object) ?? {})).to.deep.equal(['DB_PASSWORD', 'file-0']);
    await backend.removeFile(handle, '/run/secrets/not-mounted');
    fake.failNext('PATCH', /\/secrets\//, 404, 'not found');
    const err = await rejection(backend.removeFile(handle, '/run/secrets/blob.bin'));
    expect((err as BackendPreconditionError).publicMessage).to.equal(NOT_RUNNING_MESSAGE);
  });

  it('status of an unreadable pod is a BackendError (UNAVAILABLE), not a state', async () => {
    const handle = await running();
    fake.failNext('GET', /\/pods\//, 503, ECHO);
    const err = await rejection(backend.status(handle));
    expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused to read the workspace\'s Pod (503 ServiceUnavailable)');
  });

  it('onStateChange survives a failed poll and reports the change at the next one', async () => {
    const handle = await running();
    const seen: WorkspaceStatus[] = [];
    backend.onStateChange!((_h, s) => seen.push(s));
    await backend.status(handle); // RUNNING, now followed
    fake.failNext('GET', /\/pods\//, 500, ECHO);
    fake.setPodStatus(NS, handle.ref, { phase: 'Failed', containerStatuses: [{ name: 'workspace', state: { terminated: { exitCode: 137, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z' } } }] });
    const failed = await until('FAILED to be reported', async () => seen.find((s) => s.state === 'FAILED'));
    expect(failed).to.include({ exitCode: 137, message: 'its command exited with status 137' });
    expect(seen.map((s) => s.state)).to.deep.equal(['FAILED']);
  });

  it('a stopped run is no longer polled: stop is not reported as a change', async () => {
    const stopped = await running(1);
    const other = await running(2);
    const seen: WorkspaceStatus[] = [];
    backend.onStateChange!((_h, s) => seen.push(s));
    await backend.status(stopped);
    await backend.status(other);
    await backend.stop(stopped);
    const readsOf = (ref: string) => fake.requestsTo('GET', new RegExp(`/pods/${ref}$`)).length;
    const [stoppedReads, otherReads] = [readsOf(stopped.ref), readsOf(other.ref)];
    await until('two more polls of the other run', async () => (readsOf(other.ref) >= otherReads + 2 ? true : undefined));
    expect(readsOf(stopped.ref)).to.equal(stoppedReads);
    expect(seen).to.deep.equal([]);
  });
});

describe('Kubernetes workspace mappings', () => {
  const started = new Date('2026-01-01T00:00:00Z');
  const ended = new Date('2026-01-01T01:00:00Z');
  const pod = (status: V1Pod['status'], spec: Partial<NonNullable<V1Pod['spec']>> = { nodeName: 'n1' }, metadata: V1Pod['metadata'] = {}): V1Pod => ({ metadata, spec: { containers: [{ name: 'workspace' }], ...spec }, status });
  const statuses: [string, V1Pod | undefined, WorkspaceStatus][] = [
    ['a pod that is gone', undefined, { state: 'STOPPED', message: 'its pod was deleted' }],
    ['a pod being deleted', pod({ phase: 'Running' }, {}, { deletionTimestamp: ended }), { state: 'STOPPED', message: 'its pod was deleted' }],
    ['an unscheduled pod', pod({ phase: 'Pending' }, {}), { state: 'STARTING', message: 'its pod is not scheduled on a node yet' }],
    ['an unschedulable pod', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }, {}), { state: 'STARTING', message: 'its pod is not scheduled on a node yet (Unschedulable)' }],
    ['a pulling image', pod({ phase: 'Pending', containerStatuses: [{ name: 'workspace', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: PLAINTEXT } } }] }), { state: 'STARTING', message: 'its container is waiting (ImagePullBackOff)' }],
    ['a waiting reason that is not an identifier', pod({ phase: 'Pending', containerStatuses: [{ name: 'workspace', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: `x ${PLAINTEXT}` } } }] }), { state: 'STARTING', message: 'its container is waiting (no reason given)' }],
    ['a running container', pod({ phase: 'Running', containerStatuses: [{ name: 'workspace', image: 'i', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: started } } }] }), { state: 'RUNNING', startTime: started }],
    ['a command that exited 0', pod({ phase: 'Succeeded', containerStatuses: [{ name: 'workspace', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, startedAt: started, finishedAt: ended } } }] }), { state: 'STOPPED', exitCode: 0, message: 'its command exited with status 0', startTime: started, endTime: ended }],
    ['a command that exited 1', pod({ phase: 'Failed', containerStatuses: [{ name: 'workspace', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, startedAt: started, finishedAt: ended } } }] }), { state: 'FAILED', exitCode: 1, message: 'its command exited with status 1', startTime: started, endTime: ended }],
    ['an evicted pod', pod({ phase: 'Failed', reason: 'Evicted', startTime: started }), { state: 'FAILED', message: 'its pod failed (Evicted)', startTime: started }],
    ['a node that stopped reporting', pod({ phase: 'Unknown', startTime: started }), { state: 'RUNNING', startTime: started, message: 'its node does not report the pod\'s state (Unknown)' }],
  ];
  for (const [what, given, expected] of statuses) {
    it(`reads ${what} as ${expected.state}`, () => {
      expect(workspaceStatusOfPod(given)).to.deep.equal(expected);
    });
  }

  const exits: [string, V1Status, { code: number } | undefined][] = [
    ['Success', { status: 'Success' }, { code: 0 }],
    ['NonZeroExitCode 3', { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }, { code: 3 }],
    ['NonZeroExitCode 130 (a shell\'s SIGINT)', { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '130' }] } }, { code: 130 }],
    ['NonZeroExitCode without a code', { status: 'Failure', reason: 'NonZeroExitCode' }, undefined],
    ['NonZeroExitCode with a code out of range', { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '300' }] } }, undefined],
    ['InternalError (the runtime could not start it)', { status: 'Failure', reason: 'InternalError', message: 'executable file not found' }, undefined],
  ];
  for (const [what, status, expected] of exits) {
    it(`turns an exec status of ${what} into ${expected === undefined ? 'no exit' : `exit ${expected.code}`}`, () => {
      expect(exitOfStatus(status)).to.deep.equal(expected);
    });
  }

  const refusals: [string, unknown, number | undefined][] = [
    ['a 400 upgrade answer', new Error('Unexpected server response: 400'), 400],
    ['a 500 upgrade answer', { message: 'Unexpected server response: 500' }, 500],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), undefined],
    ['something else', 'boom', undefined],
  ];
  for (const [what, err, code] of refusals) {
    it(`reads the HTTP code of ${what} as ${String(code)}`, () => {
      expect(refusedExecCode(err)).to.equal(code);
    });
  }

  it('finds the Secret key of a mounted path from the Pod\'s own volume items, and nothing for another path', () => {
    const built = buildRunPod(workspaceSpec(), NS, { name: 'vessl-ws-x', uid: 'u' });
    const ref = built.metadata!.name!;
    expect(fileKeyOfPath(built, ref, '/run/secrets/tls/key.pem')).to.equal('file-0');
    expect(fileKeyOfPath(built, ref, '/run/secrets/blob.bin')).to.equal('file-1');
    expect(fileKeyOfPath(built, ref, '/run/secrets/other')).to.equal(undefined);
    expect(fileKeyOfPath(built, ref, '/etc/blob.bin')).to.equal(undefined);
    expect(fileKeyOfPath(built, 'another-secret', '/run/secrets/blob.bin')).to.equal(undefined);
  });
});
