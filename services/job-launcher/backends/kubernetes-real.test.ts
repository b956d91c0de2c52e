/**
 * The Kubernetes backend against a real kube-apiserver and kube-controller-manager (v1.20.2, built
 * by scripts/kube-control-plane.sh): the real Job controller, garbage collector, TTL controller,
 * admission and RBAC. The launcher runs as deploy/'s job-launcher with exactly deploy/'s role,
 * bound in a namespace of its own per test. The test plays the kubelet (test/support/kubelet.ts).
 *
 * What a real server cannot be made to do (injected 5xx, a server that is not there) stays in
 * kubernetes.test.ts against the fake API server.
 */
import { expect } from 'chai';
import { ApiException, BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Container, type V1Job, type V1PodSpec, type V1Secret } from '@kubernetes/client-node';
import { captureLog } from '../../../test/support/log-capture.js';
import { KUBE_REQUESTS } from '../../../test/support/kube-invalid-requests.js';
import { adminRequest, bareNamespace, CONTROL_PLANE_TIMEOUT_MS, controlPlane, deployedLauncherRole, dropNamespace, launcherMay, launcherNamespace, LAUNCHER_ROLE, LAUNCHER_SERVICE_ACCOUNT, type ControlPlane } from '../../../test/support/kube-control-plane.js';
import { TestKubelet } from '../../../test/support/kubelet.js';
import { until } from '../../../test/support/until.js';
import { BackendError, BackendPreconditionError, TERMINAL_STATES, type AttemptHandle, type AttemptStatus, type JobBackend } from '../backend.js';
import { createKubernetesBackend, LOG_VALUES_FORBIDDEN_MESSAGE, LOG_VALUES_GONE_MESSAGE } from './kubernetes.js';
import { jobKey, TTL_SECONDS_AFTER_FINISHED } from './kubernetes-manifests.js';
import { collect, collectBytes, FILE_BINARY, FILE_PEM, filesVolume, handleOf, PLAINTEXT, rejection, spec, specWithFiles } from '../../../test/support/kube-attempts.js';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');


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

describe('Kubernetes job backend against a real API server and controller manager (v1.20.2)', function () {
  let plane: ControlPlane;
  let kubelet: TestKubelet;
  let ns: string;
  let backend: JobBackend;
  let logged: string[];

  before(async function () {
    this.timeout(CONTROL_PLANE_TIMEOUT_MS);
    plane = await controlPlane();
    kubelet = await TestKubelet.start(plane);
  });

  after(async () => {
    await kubelet?.close();
  });

  beforeEach(async () => {
    ns = await launcherNamespace(plane, 'backend');
    const { lines, log } = captureLog('k8s-real-test');
    logged = lines;
    backend = createKubernetesBackend({ kubeConfig: plane.launcher, namespace: () => ns, log, pollIntervalMs: 50 });
  });

  afterEach(async () => {
    await backend.close();
    await dropNamespace(plane, ns);
  });

  const readSecret = (name: string) => plane.core.readNamespacedSecret({ namespace: ns, name });
  const readJob = (name: string) => plane.batch.readNamespacedJob({ namespace: ns, name });
  const gone = async (read: Promise<unknown>) => (await codeOf(read)) === 404;
  async function statusUntil(handle: AttemptHandle, what: string, done: (s: AttemptStatus) => boolean, b: JobBackend = backend): Promise<AttemptStatus> {
    return until(what, async () => {
      const s = await b.status(handle);
      return done(s) ? s : undefined;
    });
  }
  async function launched(s = spec()): Promise<AttemptHandle> {
    return handleOf(s, (await backend.launch(s)).ref);
  }

  describe('launch', () => {
    it('stores an immutable Opaque Secret with only the attempt\'s values, owned by the Job the API server accepted', async () => {
      const { ref } = await backend.launch(spec());
      const secret = await readSecret(ref);
      const job = await readJob(ref);
      expect(secret.immutable).to.equal(true);
      expect(secret.type).to.equal('Opaque');
      expect(secret.data).to.deep.equal({ DB_PASSWORD: b64(PLAINTEXT), API_TOKEN: b64('tok-0123456789') });
      expect(secret.metadata?.ownerReferences).to.deep.equal([{ apiVersion: 'batch/v1', kind: 'Job', name: ref, uid: job.metadata?.uid, controller: false, blockOwnerDeletion: false }]);
      // The server kept what the Job asks of it (the TTL needs its feature gate on 1.20).
      expect(job.spec?.ttlSecondsAfterFinished).to.equal(TTL_SECONDS_AFTER_FINISHED);
      expect(job.spec?.backoffLimit).to.equal(0);
      expect(job.spec?.template.metadata?.labels?.['job-name']).to.equal(ref);
    });

    it('gives the real Job controller a Job whose pod reads the values only through secretKeyRef', async () => {
      const { ref } = await backend.launch(spec());
      const pod = await plane.core.readNamespacedPod({ namespace: ns, name: await kubelet.podOf(ns, ref) });
      const container = pod.spec!.containers[0];
      expect(container.env).to.deep.equal([
        { name: 'EPOCHS', value: '3' },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: ref, key: 'DB_PASSWORD' } } },
        { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: ref, key: 'API_TOKEN' } } },
      ]);
      const stored = JSON.stringify(pod) + JSON.stringify(await readJob(ref));
      for (const form of [PLAINTEXT, b64(PLAINTEXT)]) expect(stored).not.to.include(form);
      expect(pod.spec?.automountServiceAccountToken).to.equal(false);
    });

    it('gives the pod the secret files through a volume of the attempt\'s Secret with items and defaultMode 0400, as stored by the API server and made by the Job controller', async () => {
      const { ref } = await backend.launch(specWithFiles());
      const secret = await readSecret(ref);
      expect(Buffer.from(secret.data!['file-0'], 'base64').toString()).to.equal(FILE_PEM);
      expect(Buffer.from(secret.data!['file-1'], 'base64')).to.deep.equal(FILE_BINARY);
      const stored = (await readJob(ref)).spec!.template.spec!;
      const made = (await plane.core.readNamespacedPod({ namespace: ns, name: await kubelet.podOf(ns, ref) })).spec!;
      for (const pod of [stored, made]) {
        expect(pod.volumes).to.deep.equal([filesVolume(ref)]);
        expect(pod.containers[0].volumeMounts?.find((m) => m.name === 'secret-files')).to.deep.equal({ name: 'secret-files', mountPath: '/run/secrets', readOnly: true });
        expect(pod.securityContext?.fsGroup).to.equal(pod.securityContext?.runAsGroup);
      }
      expect(JSON.stringify(made) + JSON.stringify(stored)).not.to.include(FILE_PEM.split('\n')[1]);
    });

    it('masks a secret file\'s value in the pod\'s log like a variable\'s', async () => {
      const handle = await launched(specWithFiles({ attempt: 2 }));
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, Buffer.concat([Buffer.from(`key:\n${FILE_PEM}bin `), FILE_BINARY, Buffer.from(' end\n')]));
      await kubelet.exit(ns, pod, 0);
      const log = await collectBytes(backend.logs(handle, { follow: false }));
      expect(log.includes(FILE_PEM.split('\n')[1])).to.equal(false);
      expect(log.includes(FILE_BINARY)).to.equal(false);
      expect(log.toString('latin1')).to.match(/^key:\n\*\*\*/);
      expect(log.toString('latin1')).to.match(/bin \*\*\* end\n$/);
    });

    it('labels the Secret, the Job and its pod template with managed-by, job, attempt and org', async () => {
      const s = spec({ attempt: 3 });
      const { ref } = await backend.launch(s);
      const expected = { 'app.kubernetes.io/managed-by': 'vessl-secrets', 'secrets.vessl.ai/job': jobKey(s.jobId), 'secrets.vessl.ai/attempt': '3', 'secrets.vessl.ai/org': 'acme' };
      const secret = await readSecret(ref);
      const job = await readJob(ref);
      expect(secret.metadata?.labels).to.deep.equal(expected);
      expect(job.metadata?.labels).to.deep.equal(expected);
      // The API server adds its own two to the pod template (controller-uid, job-name).
      expect(job.spec?.template.metadata?.labels).to.deep.include(expected);
      expect(secret.metadata?.annotations?.['secrets.vessl.ai/job-id']).to.equal(s.jobId);
    });

    it('runs the command with /bin/sh -c in the job\'s image, in a pod the Job controller made from the stored Job', async () => {
      const { ref } = await backend.launch(spec());
      const pod = await plane.core.readNamespacedPod({ namespace: ns, name: await kubelet.podOf(ns, ref) });
      expect(pod.spec?.containers.map((c) => [c.name, c.image, c.command])).to.deep.equal([['job', 'python:3.12-slim', ['/bin/sh', '-c', 'python train.py --epochs 3']]]);
    });

    /** One row per hardening rule the job's pod must keep (a job runs code nobody reviewed), as stored and as made. */
    const hardening: [rule: string, holds: (pod: V1PodSpec, container: V1Container) => boolean][] = [
      ['mounts no service account token', (pod) => pod.automountServiceAccountToken === false],
      ['gets no service links in its environment', (pod) => pod.enableServiceLinks === false],
      ['runs as non-root, by the pod\'s and the container\'s settings', (pod, c) => pod.securityContext?.runAsNonRoot === true && c.securityContext?.runAsNonRoot === true],
      ['runs as a numeric non-zero user and group', (pod) => (pod.securityContext?.runAsUser ?? 0) > 0 && (pod.securityContext?.runAsGroup ?? 0) > 0],
      ['cannot escalate privileges', (_, c) => c.securityContext?.allowPrivilegeEscalation === false],
      ['is not privileged', (_, c) => c.securityContext?.privileged === false],
      ['drops ALL capabilities and adds none', (_, c) => JSON.stringify(c.securityContext?.capabilities) === JSON.stringify({ drop: ['ALL'] })],
      ['uses the RuntimeDefault seccomp profile', (pod, c) => pod.securityContext?.seccompProfile?.type === 'RuntimeDefault' && c.securityContext?.seccompProfile?.type === 'RuntimeDefault'],
      ['runs once: no restarts, no retries', (pod) => pod.restartPolicy === 'Never'],
    ];
    for (const [rule, holds] of hardening) {
      it(`stores a Job whose pod ${rule}, and the Job controller's pod keeps it`, async () => {
        const { ref } = await backend.launch(spec());
        const stored = (await readJob(ref)).spec!.template.spec!;
        const made = (await plane.core.readNamespacedPod({ namespace: ns, name: await kubelet.podOf(ns, ref) })).spec!;
        for (const pod of [stored, made]) {
          expect(pod.containers).to.have.length(1);
          expect(holds(pod, pod.containers[0])).to.equal(true);
        }
      });
    }

    it('gives each attempt its own Secret with the values read for it', async () => {
      const first = await backend.launch(spec());
      const second = await backend.launch(spec({ attempt: 2, secretEnv: [{ name: 'DB_PASSWORD', value: Buffer.from('second-attempt-value-71c2'), secretName: 'db-password', version: 5 }] }));
      expect((await readSecret(first.ref)).data?.DB_PASSWORD).to.equal(b64(PLAINTEXT));
      const other = await readSecret(second.ref);
      expect(other.data).to.deep.equal({ DB_PASSWORD: b64('second-attempt-value-71c2') });
      expect(JSON.parse(other.metadata!.annotations!['secrets.vessl.ai/secret-versions'])).to.deep.equal({ DB_PASSWORD: { secret: 'db-password', version: 5 } });
    });

    it('refuses a second launch of the same attempt (409) and leaves the first one\'s objects as they were', async () => {
      const s = spec();
      const { ref } = await backend.launch(s);
      const before = await readSecret(ref);
      const err = await rejection(backend.launch(s));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused the Secret (409 AlreadyExists): this attempt was already launched');
      expect((await readSecret(ref)).metadata?.resourceVersion).to.equal(before.metadata?.resourceVersion);
      expect((await readJob(ref)).metadata?.uid).to.not.equal(undefined);
    });

    it('leaves nothing behind when the Secret is created but the Job is refused (a quota of no Jobs: 403)', async () => {
      // The quota controller does not run here: the test sets the quota's status as it would.
      await plane.core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'no-jobs' }, spec: { hard: { 'count/jobs.batch': '0' } } } });
      await plane.core.patchNamespacedResourceQuotaStatus(
        { namespace: ns, name: 'no-jobs', body: { status: { hard: { 'count/jobs.batch': '0' }, used: { 'count/jobs.batch': '0' } } } },
        MERGE_PATCH,
      );
      const err = await rejection(backend.launch(spec()));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused the Job (403 Forbidden)');
      expect((await plane.core.listNamespacedSecret({ namespace: ns })).items.filter((s) => s.type === 'Opaque')).to.deep.equal([]);
      expect((await plane.batch.listNamespacedJob({ namespace: ns })).items).to.deep.equal([]);
      expect(logged.join('')).not.to.include(PLAINTEXT);
    });

    it('is refused (403), creating nothing, in a namespace where deploy/ did not bind the launcher\'s role', async () => {
      const elsewhere = await bareNamespace(plane, 'unbound');
      try {
        const outsider = createKubernetesBackend({ kubeConfig: plane.launcher, namespace: () => elsewhere });
        const err = await rejection(outsider.launch(spec()));
        expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused the Secret (403 Forbidden)');
        expect((await plane.core.listNamespacedSecret({ namespace: elsewhere })).items.filter((s) => s.type === 'Opaque')).to.deep.equal([]);
      } finally {
        await dropNamespace(plane, elsewhere);
      }
    });
  });

  describe('status, as the real Job controller sets it', () => {
    it('is RUNNING and says why while the container waits to start', async () => {
      const handle = await launched();
      await kubelet.waiting(ns, await kubelet.podOf(ns, handle.ref), 'ContainerCreating');
      await statusUntil(handle, 'RUNNING with the waiting reason', (s) => s.message === 'the container is waiting (ContainerCreating)' && s.state === 'RUNNING');
    });

    it('is RUNNING, with its start time, once the container runs', async () => {
      const handle = await launched();
      await kubelet.run(ns, await kubelet.podOf(ns, handle.ref));
      const s = await statusUntil(handle, 'RUNNING', (st) => st.state === 'RUNNING' && st.message === undefined);
      expect(s.startTime).to.be.instanceOf(Date);
    });

    it('is SUCCEEDED with exit code 0 once the Job controller has marked the Job Complete', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      await kubelet.exit(ns, pod, 0);
      const s = await statusUntil(handle, 'SUCCEEDED', (st) => st.state === 'SUCCEEDED');
      expect(s.exitCode).to.equal(0);
      expect(s.endTime).to.be.instanceOf(Date);
    });

    it('is FAILED with the container\'s exit code once the Job controller has marked the Job Failed', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      await kubelet.exit(ns, pod, 3);
      const s = await statusUntil(handle, 'FAILED', (st) => st.state === 'FAILED');
      expect(s).to.deep.include({ exitCode: 3, message: 'the command exited with code 3' });
      expect(((await readJob(handle.ref)).status?.conditions ?? []).map((c) => [c.type, c.reason])).to.deep.equal([['Failed', 'BackoffLimitExceeded']]);
    });

    it('is FAILED because the Job no longer exists once it is deleted, and the garbage collector takes its Secret and pod', async () => {
      const handle = await launched();
      await kubelet.podOf(ns, handle.ref);
      await plane.batch.deleteNamespacedJob({ namespace: ns, name: handle.ref, propagationPolicy: 'Background' });
      expect(await backend.status(handle)).to.deep.equal({ state: 'FAILED', message: 'the Kubernetes Job no longer exists' });
      await until('the garbage collector to delete the Secret', async () => ((await gone(readSecret(handle.ref))) ? true : undefined));
      await until('the garbage collector to delete the pod', async () => ((await plane.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${handle.ref}` })).items.length === 0 ? true : undefined));
    });

    it('lets the TTL controller remove a finished Job, and garbage collection its Secret', async () => {
      const handle = await launched();
      // A day in production; a second here, set as an operator could (the field is mutable).
      await plane.batch.patchNamespacedJob({ namespace: ns, name: handle.ref, body: { spec: { ttlSecondsAfterFinished: 1 } } }, MERGE_PATCH);
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      await kubelet.exit(ns, pod, 0);
      await until('the TTL controller to delete the Job', async () => ((await gone(readJob(handle.ref))) ? true : undefined));
      await until('the garbage collector to delete the Secret', async () => ((await gone(readSecret(handle.ref))) ? true : undefined));
    });

    it('is read the same by a restarted launcher, which keeps nothing of its own', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      await backend.close();
      backend = createKubernetesBackend({ kubeConfig: plane.launcher, namespace: () => ns, pollIntervalMs: 50 });
      await statusUntil(handle, 'RUNNING after the restart', (s) => s.state === 'RUNNING');
      await kubelet.exit(ns, pod, 0);
      await statusUntil(handle, 'SUCCEEDED after the restart', (s) => s.state === 'SUCCEEDED');
    });
  });

  describe('terminate', () => {
    it('cancels the Job and deletes its Secret at once; the Job controller then ends it (DeadlineExceeded) and it stays CANCELLED', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await backend.terminate(handle);
      expect(await gone(readSecret(handle.ref))).to.equal(true);
      expect(await backend.status(handle)).to.deep.include({ state: 'CANCELLED' });
      // The controller acts on the passed deadline when it next syncs the Job. A cancel that lands
      // within a second of the Job's start can be seen in a sync that is still inside the
      // deadline, and v1.20 then schedules no other sync: in a cluster the kubelet's next report
      // on the starting pod brings one. Here the test is the kubelet, so it reports the pod as
      // still starting, once a second, until the Job has failed.
      let reported = 0;
      const job = await until(
        'the Job controller to fail the cancelled Job',
        async () => {
          const j = await readJob(handle.ref);
          if (j.status?.conditions?.some((c) => c.type === 'Failed')) return j;
          if (Date.now() - reported >= 1000) {
            reported = Date.now();
            await kubelet.waiting(ns, pod, 'ContainerCreating').catch(() => undefined);
          }
          return undefined;
        },
        60_000,
      );
      expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).to.equal('DeadlineExceeded');
      await until('the Job controller to delete the pod', async () => ((await plane.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${handle.ref}` })).items.length === 0 ? true : undefined), 60_000);
      expect(await backend.status(handle)).to.deep.include({ state: 'CANCELLED' });
    });

    it('is idempotent, also once the Job is gone', async () => {
      const handle = await launched();
      await backend.terminate(handle);
      await backend.terminate(handle);
      const after = await readJob(handle.ref);
      expect(after.metadata?.annotations?.['secrets.vessl.ai/cancelled']).to.equal('true');
      expect(after.spec?.activeDeadlineSeconds).to.equal(1);
      expect(await backend.status(handle)).to.deep.include({ state: 'CANCELLED' });
      await plane.batch.deleteNamespacedJob({ namespace: ns, name: handle.ref, propagationPolicy: 'Background' });
      await backend.terminate(handle);
      expect(await backend.status(handle)).to.deep.include({ state: 'FAILED' });
    });

    it('leaves a Job that already finished as it is', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      await kubelet.exit(ns, pod, 0);
      await statusUntil(handle, 'SUCCEEDED', (s) => s.state === 'SUCCEEDED');
      await backend.terminate(handle);
      const job = await readJob(handle.ref);
      expect(job.metadata?.annotations?.['secrets.vessl.ai/cancelled']).to.equal(undefined);
      expect((await readSecret(handle.ref)).data).to.have.property('DB_PASSWORD');
      expect(await backend.status(handle)).to.deep.include({ state: 'SUCCEEDED' });
    });
  });

  describe('logs, masked, through the real API server from the kubelet', () => {
    it('reads the whole log, or its last lines plain or followed, masked in every form', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, `one\npassword=${PLAINTEXT}\nurl=${Buffer.from(PLAINTEXT).toString('base64url')}\nencoded=${b64(PLAINTEXT)} tok-0123456789\n`);
      await kubelet.exit(ns, pod, 0);
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('one\npassword=***\nurl=***\nencoded=*** ***\n');
      for (const follow of [false, true]) {
        expect(await collect(backend.logs(handle, { follow, tailLines: 1 })), `follow: ${follow}`).to.equal('encoded=*** ***\n');
      }
    });

    for (const [what, form] of [['a value', PLAINTEXT], ['the base64 form of a value', b64(PLAINTEXT)]]) {
      it(`follows the log as it grows, masking ${what} split across two writes, until the container exits`, async () => {
        const handle = await launched();
        const pod = await kubelet.podOf(ns, handle.ref);
        await kubelet.run(ns, pod);
        const lead = `${'loading the model weights from the cache '.repeat(3)}\npassword=`;
        kubelet.write(ns, pod, lead + form.slice(0, 9));
        const reading = backend.logs(handle, { follow: true })[Symbol.asyncIterator]();
        const first = (await reading.next()).value as Buffer;
        expect(first.length).to.be.above(0);
        expect(lead.startsWith(first.toString('utf8'))).to.equal(true);
        kubelet.write(ns, pod, `${form.slice(9)} accepted\n`);
        await kubelet.exit(ns, pod, 0);
        const rest: Buffer[] = [];
        for (let next = await reading.next(); !next.done; next = await reading.next()) rest.push(next.value);
        expect(Buffer.concat([first, ...rest]).toString('utf8')).to.equal(`${lead}*** accepted\n`);
      });
    }

    it('waits for the container to start before following', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      let settled = false;
      const reading = collect(backend.logs(handle, { follow: true })).finally(() => (settled = true));
      // The container has not started: the follow waits, reaching no kubelet, and does not end.
      expect(TERMINAL_STATES).to.not.include((await backend.status(handle)).state);
      expect(kubelet.openFollows()).to.equal(0);
      expect(settled, 'a follow of a container that has not started waits').to.equal(false);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, `started ${PLAINTEXT}\n`);
      await until('the follow to reach the kubelet', async () => (kubelet.openFollows() > 0 ? true : undefined));
      await kubelet.exit(ns, pod, 0);
      expect(await reading).to.equal('started ***\n');
    });

    it('masks with the attempt\'s Secret as read for each log, so a restarted launcher masks as well', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, `password=${PLAINTEXT}\n`);
      await kubelet.exit(ns, pod, 0);
      await backend.close();
      backend = createKubernetesBackend({ kubeConfig: plane.launcher, namespace: () => ns, pollIntervalMs: 50 });
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('password=***\n');
      expect(await collect(backend.logs(handle, { follow: true }))).to.equal('password=***\n');
    });

    it('yields nothing from a plain read before the container starts', async () => {
      const handle = await launched();
      await kubelet.podOf(ns, handle.ref);
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('');
    });

    it('masks a value that is not UTF-8 byte for byte, the API server passing the kubelet\'s bytes through as they are', async () => {
      const binary = Buffer.from([0xff, 0xfe, 0x6b, 0x65, 0x79, 0x80, 0x00, 0xc3]);
      const s = spec({ attempt: 2, secretEnv: [{ name: 'RAW_KEY', value: binary, secretName: 'raw-key', version: 1 }] });
      const handle = await launched(s);
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, Buffer.concat([Buffer.from('raw '), binary, Buffer.from(' lone \xc3 byte\n', 'latin1')]));
      await kubelet.exit(ns, pod, 0);
      for (const follow of [false, true]) {
        expect(await collectBytes(backend.logs(handle, { follow })), `follow: ${follow}`).to.deep.equal(Buffer.from('raw *** lone \xc3 byte\n', 'latin1'));
      }
    });

    it('masks the end of a multi-line value whose beginning lies before the last lines asked for', async () => {
      const key = '-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG\n9w0BAQEFAASCBKcwggSj\n-----END TEST KEY-----';
      const s = spec({ attempt: 2, secretEnv: [{ name: 'TLS_KEY', value: Buffer.from(key), secretName: 'tls-key', version: 1 }] });
      const handle = await launched(s);
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, `loading the key\n${key}\nready\n`);
      await kubelet.exit(ns, pod, 0);
      expect(await collect(backend.logs(handle, { follow: false, tailLines: 2 }))).to.equal('***\nready\n');
    });

    it('keeps back, from a read of a running container, the start of a value it has not finished writing', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      const value = Buffer.from(PLAINTEXT, 'utf8');
      kubelet.write(ns, pod, Buffer.concat([Buffer.from('password='), value.subarray(0, 12)]));
      const early = await collectBytes(backend.logs(handle, { follow: false }));
      expect(early.includes(value.subarray(0, 4))).to.equal(false);
      expect('password='.startsWith(early.toString('utf8'))).to.equal(true);
      kubelet.write(ns, pod, Buffer.concat([value.subarray(12), Buffer.from('\n')]));
      await kubelet.exit(ns, pod, 0);
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('password=***\n');
    });

    it('stops following, and closes its request through the API server to the kubelet, when cancelled() says so', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      const line = `${'first line, long enough to pass the masker '.repeat(4)}\n`;
      kubelet.write(ns, pod, line);
      let cancel = false;
      const chunks: Buffer[] = [];
      for await (const chunk of backend.logs(handle, { follow: true, cancelled: () => cancel })) {
        chunks.push(chunk);
        cancel = true;
      }
      expect(line.startsWith(Buffer.concat(chunks).toString('utf8'))).to.equal(true);
      expect(chunks).not.to.be.empty;
      await until('the kubelet to see the follow closed', async () => (kubelet.openFollows() === 0 ? true : undefined));
    });

    it('ends open follows on close(), keeping back the start of a value the container was writing', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      const line = `${'output long enough to pass the masker '.repeat(4)}\n`;
      kubelet.write(ns, pod, Buffer.concat([Buffer.from(`${line}password=`), Buffer.from(PLAINTEXT).subarray(0, 12)]));
      const reading = backend.logs(handle, { follow: true })[Symbol.asyncIterator]();
      const first = await reading.next();
      await backend.close();
      const rest: Buffer[] = [];
      for (let next = await reading.next(); !next.done; next = await reading.next()) rest.push(next.value);
      const shown = Buffer.concat([first.value as Buffer, ...rest]);
      expect(shown.length).to.be.above(0);
      expect(`${line}password=`.startsWith(shown.toString('utf8'))).to.equal(true);
      await until('the kubelet to see the follow closed', async () => (kubelet.openFollows() === 0 ? true : undefined));
    });

    it('serves the log of an attempt without secrets, whose Secret holds no data, also once that Secret is gone', async () => {
      const s = spec({ attempt: 2, secretEnv: [] });
      const handle = await launched(s);
      expect((await readSecret(handle.ref)).data).to.equal(undefined);
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, 'no secrets here\n');
      await kubelet.exit(ns, pod, 0);
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('no secrets here\n');
      await plane.core.deleteNamespacedSecret({ namespace: ns, name: handle.ref });
      expect(await collect(backend.logs(handle, { follow: false }))).to.equal('no secrets here\n');
    });

    it('ends a follow without output when the Job is cancelled before its container starts', async () => {
      const handle = await launched();
      await backend.terminate(handle);
      expect(await collect(backend.logs(handle, { follow: true }))).to.equal('');
    });

    for (const follow of [false, true]) {
      it(`refuses the log${follow ? ' followed' : ''} once the attempt's Secret is gone (FAILED_PRECONDITION)`, async () => {
        const handle = await launched();
        const pod = await kubelet.podOf(ns, handle.ref);
        await kubelet.run(ns, pod);
        kubelet.write(ns, pod, `password=${PLAINTEXT}\n`);
        await plane.core.deleteNamespacedSecret({ namespace: ns, name: handle.ref });
        const err = await rejection(collect(backend.logs(handle, { follow })));
        expect(err).to.be.instanceOf(BackendPreconditionError);
        expect(err).to.deep.include({ publicMessage: LOG_VALUES_GONE_MESSAGE, reason: 'LOG_MASKING_VALUES_GONE' });
        expect(logged.join('')).not.to.include(PLAINTEXT);
      });
    }

    it('refuses the log (FAILED_PRECONDITION) where the launcher\'s role lacks get on secrets: the API server answers 403', async () => {
      const handle = await launched();
      const pod = await kubelet.podOf(ns, handle.ref);
      await kubelet.run(ns, pod);
      kubelet.write(ns, pod, `password=${PLAINTEXT}\n`);
      // deploy/'s role without get on secrets, bound in place of the real one.
      const role = deployedLauncherRole();
      const weaker = `${LAUNCHER_ROLE}-no-get-${ns}`;
      await plane.rbac.createClusterRole({
        body: { ...role, metadata: { name: weaker }, rules: role.rules!.map((r) => (r.resources?.includes('secrets') ? { ...r, verbs: r.verbs.filter((v) => v !== 'get') } : r)) },
      });
      await plane.rbac.deleteNamespacedRoleBinding({ namespace: ns, name: LAUNCHER_ROLE });
      await plane.rbac.createNamespacedRoleBinding({
        namespace: ns,
        body: { metadata: { name: weaker }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: weaker }, subjects: [{ kind: 'ServiceAccount', ...LAUNCHER_SERVICE_ACCOUNT }] },
      });
      try {
        await until('the weaker role to take effect', async () => ((await launcherMay(plane, ns, 'list', 'pods')) && !(await launcherMay(plane, ns, 'get', 'secrets')) ? true : undefined));
        const err = await rejection(collect(backend.logs(handle, { follow: false })));
        expect(err).to.be.instanceOf(BackendPreconditionError);
        expect(err).to.deep.include({ publicMessage: LOG_VALUES_FORBIDDEN_MESSAGE, reason: 'LOG_MASKING_VALUES_FORBIDDEN' });
        expect(logged.join('')).to.match(/"code":403/);
      } finally {
        await plane.rbac.deleteClusterRole({ name: weaker });
      }
    });
  });

  describe('the raw requests the fake API server is held to', () => {
    for (const row of KUBE_REQUESTS) {
      it(`answers ${row.status} to ${row.what}`, async () => {
        const res = await adminRequest(plane, 'POST', row.path.replace('/namespaces/ns/', `/namespaces/${ns}/`), row.body);
        expect(res.status, JSON.stringify(res.body)).to.equal(row.status);
        if (row.status >= 400) expect(res.body).to.include({ kind: 'Status', status: 'Failure', code: row.status });
      });
    }
  });

  describe('least privilege: deploy/\'s role, bound in the namespace, and nothing more', () => {
    /** What the backend calls: each is allowed in its namespace. */
    const allowed: [verb: string, resource: string, group: string, subresource?: string][] = [
      ['create', 'secrets', ''],
      ['get', 'secrets', ''],
      ['patch', 'secrets', ''],
      ['delete', 'secrets', ''],
      ['create', 'jobs', 'batch'],
      ['get', 'jobs', 'batch'],
      ['patch', 'jobs', 'batch'],
      ['delete', 'jobs', 'batch'],
      ['list', 'pods', ''],
      ['get', 'pods', '', 'log'],
      // The workspace backend's (workspaces/kubernetes-workspaces.ts): a run's Pod, exec into it
      // (get for a WebSocket before Kubernetes 1.30), the workspace's ConfigMap. Creating pods
      // gives no power creating Jobs did not already give.
      ['create', 'pods', ''],
      ['get', 'pods', ''],
      ['delete', 'pods', ''],
      ['get', 'pods', '', 'exec'],
      ['create', 'pods', '', 'exec'],
      ['create', 'configmaps', ''],
      ['get', 'configmaps', ''],
      ['delete', 'configmaps', ''],
    ];
    it('allows exactly the calls the backend makes, in its namespace', async () => {
      for (const [verb, resource, group, sub] of allowed) {
        expect(await launcherMay(plane, ns, verb, resource, group, sub), `${verb} ${group}/${resource}${sub ? `/${sub}` : ''}`).to.equal(true);
      }
    });

    it('allows none of them in a namespace without the binding', async () => {
      const elsewhere = await bareNamespace(plane, 'unbound');
      try {
        for (const [verb, resource, group, sub] of allowed) expect(await launcherMay(plane, elsewhere, verb, resource, group, sub), `${verb} ${resource}`).to.equal(false);
      } finally {
        await dropNamespace(plane, elsewhere);
      }
    });

    /** What the launcher must not do, each tried for real: the API server answers 403. */
    const refused: [what: string, call: (core: CoreV1Api, batch: BatchV1Api, ns: string) => Promise<unknown>][] = [
      ['list secrets (it could find values it was not told of)', (core, _, n) => core.listNamespacedSecret({ namespace: n })],
      ['watch secrets', (core, _, n) => core.listNamespacedSecret({ namespace: n, watch: true, timeoutSeconds: 1 })],
      ['update a Secret (only a merge patch of its own objects)', (core, _, n) => core.replaceNamespacedSecret({ namespace: n, name: 'x', body: { metadata: { name: 'x' } } as V1Secret })],
      ['list Jobs', (_, batch, n) => batch.listNamespacedJob({ namespace: n })],
      ['change a pod', (core, _, n) => core.patchNamespacedPod({ namespace: n, name: 'p', body: { metadata: { labels: { a: 'b' } } } }, MERGE_PATCH)],
      ['watch pods', (core, _, n) => core.listNamespacedPod({ namespace: n, watch: true, timeoutSeconds: 1 })],
      ['attach to a pod', (core, _, n) => core.connectPostNamespacedPodAttach({ namespace: n, name: 'p' })],
      ['port-forward to a pod', (core, _, n) => core.connectPostNamespacedPodPortforward({ namespace: n, name: 'p' })],
      ['list ConfigMaps', (core, _, n) => core.listNamespacedConfigMap({ namespace: n })],
      ['change a ConfigMap', (core, _, n) => core.patchNamespacedConfigMap({ namespace: n, name: 'kube-root-ca.crt', body: { data: { a: 'b' } } }, MERGE_PATCH)],
      ['read a ServiceAccount', (core, _, n) => core.readNamespacedServiceAccount({ namespace: n, name: 'default' })],
      ['create a namespace', (core) => core.createNamespace({ body: { metadata: { name: 'launcher-made' } } })],
      ['list namespaces', (core) => core.listNamespace()],
      ['read a Secret in kube-system', (core) => core.readNamespacedSecret({ namespace: 'kube-system', name: 'x' })],
    ];
    for (const [what, call] of refused) {
      it(`is refused with 403 when it tries to ${what}`, async () => {
        const core = plane.launcher.makeApiClient(CoreV1Api);
        const batch = plane.launcher.makeApiClient(BatchV1Api);
        expect(await codeOf(call(core, batch, ns))).to.equal(403);
      });
    }

    it('cannot change a Job\'s pod template, which the API server keeps immutable even for the role that may patch it', async () => {
      const handle = await launched();
      const batch = plane.launcher.makeApiClient(BatchV1Api);
      const change = batch.patchNamespacedJob({ namespace: ns, name: handle.ref, body: { spec: { template: { spec: { containers: [{ name: 'job', image: 'evil' }] } } } } as Partial<V1Job> }, MERGE_PATCH);
      expect(await codeOf(change)).to.equal(422);
    });
  });
});
