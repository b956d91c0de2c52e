import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { KubeConfig, type V1Job } from '@kubernetes/client-node';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { FakeKubeApi } from '../../../test/support/fake-kube-api.js';
import { KUBE_REQUESTS, JOBS_PATH, SECRETS_PATH, validJob, validSecret } from '../../../test/support/kube-invalid-requests.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { BackendError, BackendPreconditionError, type AttemptHandle, type AttemptSpec, type JobBackend } from '../backend.js';
import { createKubernetesBackend, kubeConfigFromEnvironment, LOG_VALUES_FORBIDDEN_MESSAGE, LOG_VALUES_GONE_MESSAGE } from './kubernetes.js';
import { lastLines, tailContextLines } from './kubernetes-logs.js';
import { attemptObjectName } from './kubernetes-manifests.js';
import { collect, FILE_BINARY, FILE_PEM, filesVolume, handleOf, PLAINTEXT, rejection, spec, specWithFiles } from '../../../test/support/kube-attempts.js';

const OTHER_PLAINTEXT = 'second-attempt-value-71c2';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
/** Every way a value could show up: as is, in base64, and in base64 of its JSON-escaped form. */
const FORMS = [PLAINTEXT, b64(PLAINTEXT), OTHER_PLAINTEXT, b64(OTHER_PLAINTEXT)];

const nsOf = (org: string) => `vessl-org-${org}`;


/** POSTs straight to the fake, as a client that skips the backend would. */
async function post(fake: FakeKubeApi, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${fake.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Kubernetes job backend', () => {
  let fake: FakeKubeApi;
  let backend: JobBackend;
  let logged: string[];

  beforeEach(async () => {
    fake = await FakeKubeApi.start();
    const { lines, log } = captureLog('k8s-backend-test');
    logged = lines;
    backend = createKubernetesBackend({ kubeConfig: fake.kubeConfig(), namespace: nsOf, log, pollIntervalMs: 20 });
  });

  afterEach(async () => {
    await backend.close();
    await fake.close();
  });

  // What the backend sends, and how it fails when the API server fails: the objects as a real
  // server stores them, and what its controllers do with them, are in kubernetes-real.test.ts.
  describe('launch', () => {
    it('never puts a secret value, plain or base64, in the Job, its labels or annotations, or a log line', async () => {
      await backend.launch(spec());
      await backend.launch(spec({ attempt: 2, secretEnv: [{ name: 'DB_PASSWORD', value: Buffer.from(OTHER_PLAINTEXT), secretName: 'db-password', version: 5 }] }));
      const jobTraffic = fake.requests.filter((r) => r.path.includes('/jobs')).map((r) => r.rawBody);
      const stored = JSON.stringify(fake.all('Job'));
      for (const form of FORMS) {
        for (const body of jobTraffic) expect(body).not.to.include(form);
        expect(stored).not.to.include(form);
        expect(logged.join('')).not.to.include(form);
      }
      expect(logged.join('')).to.include('attempt launched');
    });

    it('creates the Secret first, then the Job, then makes the Job own the Secret by merge patch', async () => {
      const s = spec();
      const { ref } = await backend.launch(s);
      const order = fake.requests.map((r) => `${r.method} ${r.path}`);
      const ns = nsOf('acme');
      expect(order).to.deep.equal([
        `POST /api/v1/namespaces/${ns}/secrets`,
        `POST /apis/batch/v1/namespaces/${ns}/jobs`,
        `PATCH /api/v1/namespaces/${ns}/secrets/${ref}`,
      ]);
      const patch = fake.requests[2];
      expect(patch.contentType).to.equal('application/merge-patch+json');
      const jobUid = (fake.job(ns, ref)?.metadata as Record<string, unknown>).uid;
      expect(patch.body).to.deep.equal({ metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: ref, uid: jobUid, controller: false, blockOwnerDeletion: false }] } });
      const stored = fake.secret(ns, ref) as { metadata: { ownerReferences: { uid: string }[] }; data: Record<string, string> };
      expect(stored.metadata.ownerReferences.map((o) => o.uid)).to.deep.equal([jobUid]);
      expect(stored.data.DB_PASSWORD).to.equal(b64(PLAINTEXT));
    });

    it('names both objects vessl-<hash of the job id>-a<attempt>, a DNS-1123 label that keeps case-different ids apart', async () => {
      const { ref } = await backend.launch(spec());
      expect(ref).to.equal(attemptObjectName('j_AbC123xyZ', 1));
      expect(ref).to.match(/^vessl-[a-z2-7]{20}-a1$/);
      expect(attemptObjectName('j_abc123xyz', 1)).not.to.equal(ref);
      expect(attemptObjectName('j_AbC123xyZ', 2)).to.equal(ref.replace(/-a1$/, '-a2'));
      expect(fake.job(nsOf('acme'), ref)).not.to.equal(undefined);
      expect(fake.secret(nsOf('acme'), ref)).not.to.equal(undefined);
    });

    it('launches into the namespace the namespace function gives for the org', async () => {
      await backend.launch(spec({ org: 'acme' }));
      await backend.launch(spec({ org: 'globex', jobId: 'j_other' }));
      expect(fake.all('Job').map((j) => (j.metadata as Record<string, unknown>).namespace).sort()).to.deep.equal(['vessl-org-acme', 'vessl-org-globex']);
      expect(fake.all('Secret').map((j) => (j.metadata as Record<string, unknown>).namespace).sort()).to.deep.equal(['vessl-org-acme', 'vessl-org-globex']);
    });

    it('deletes the Secret and throws a BackendError without the API\'s body when the Job is refused', async () => {
      const apiMessage = `Job "x" is invalid: spec.template.spec.containers[0].env[1].value: Invalid value: "${PLAINTEXT}" (${b64(PLAINTEXT)})`;
      fake.failNext('POST', /\/jobs$/, 422, apiMessage);
      const s = spec();
      const err = await rejection(backend.launch(s));
      expect(err).to.be.instanceOf(BackendError);
      const e = err as BackendError;
      expect(e.publicMessage).to.equal('the Kubernetes API refused the Job (422 Invalid)');
      for (const text of [e.message, e.publicMessage, String(e.stack), logged.join('')]) {
        expect(text).not.to.include('is invalid');
        for (const form of FORMS) expect(text).not.to.include(form);
      }
      const name = attemptObjectName(s.jobId, s.attempt);
      expect(fake.requestsTo('DELETE', new RegExp(`/secrets/${name}$`))).to.have.length(1);
      expect(fake.all('Secret')).to.deep.equal([]);
      expect(fake.all('Job')).to.deep.equal([]);
      expect(logged.join('')).to.match(/"code":422/);
    });

    it('deletes the Job and the Secret and throws a BackendError when the owner patch fails', async () => {
      fake.failNext('PATCH', /\/secrets\//, 500, `etcd said something about ${PLAINTEXT}`);
      const err = await rejection(backend.launch(spec()));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal('the Kubernetes API refused making the Job own its Secret (500 InternalError)');
      const deleteJob = fake.requestsTo('DELETE', /\/jobs\//);
      expect(deleteJob).to.have.length(1);
      expect(deleteJob[0].query.get('propagationPolicy')).to.equal('Background');
      expect(fake.all('Secret')).to.deep.equal([]);
      expect(fake.all('Job')).to.deep.equal([]);
      for (const form of FORMS) expect(logged.join('') + (err as Error).message).not.to.include(form);
    });

    it('refuses, before creating anything, an env var name that is not a C identifier', async () => {
      const err = await rejection(backend.launch(spec({ env: [{ name: 'BAD-NAME', value: 'x' }] })));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.include('"BAD-NAME" is not a C identifier');
      expect(fake.requests).to.deep.equal([]);
    });

    it('mounts secret files from the attempt\'s Secret through one read-only volume at /run/secrets with items, 0400; values only in the Secret', async () => {
      const { ref } = await backend.launch(specWithFiles());
      const ns = nsOf('acme');
      const secret = fake.secret(ns, ref) as { data: Record<string, string>; metadata: { annotations: Record<string, string> } };
      expect(Buffer.from(secret.data['file-0'], 'base64').toString()).to.equal(FILE_PEM);
      expect(Buffer.from(secret.data['file-1'], 'base64')).to.deep.equal(FILE_BINARY);
      expect(JSON.parse(secret.metadata.annotations['secrets.vessl.ai/secret-versions'])).to.deep.include({ '/run/secrets/tls/key.pem': { secret: 'tls-key', version: 2 } });
      const pod = (fake.job(ns, ref) as V1Job).spec!.template.spec!;
      expect(pod.volumes).to.deep.equal([filesVolume(ref)]);
      expect(pod.containers[0].volumeMounts).to.deep.equal([{ name: 'secret-files', mountPath: '/run/secrets', readOnly: true }]);
      expect(pod.securityContext?.fsGroup).to.equal(pod.securityContext?.runAsGroup);
      const jobTraffic = fake.requests.filter((r) => r.path.includes('/jobs')).map((r) => r.rawBody).join('');
      for (const form of [FILE_PEM.split('\n')[1], FILE_BINARY.toString('base64')]) expect(jobTraffic + logged.join('')).not.to.include(form);
    });

    it('refuses, before creating anything, a secret file outside /run/secrets (a volume there would hide the image\'s files)', async () => {
      const err = await rejection(backend.launch(spec({ secretFiles: [{ path: '/home/job/.ssh/id', value: Buffer.from('x'), secretName: 'ssh', version: 1 }] })));
      expect((err as BackendError).publicMessage).to.match(/secret file of "ssh": "\/home\/job\/.ssh\/id" is not under \/run\/secrets\//);
      expect(fake.requests).to.deep.equal([]);
      expect(backend.secretFiles?.roots).to.deep.equal(['/run/secrets/']);
    });

    it('reports an unreachable API server as a BackendError that says so', async () => {
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'gone', server: 'http://127.0.0.1:1', skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'c', cluster: 'gone', user: 'u' }], currentContext: 'c' });
      const offline = createKubernetesBackend({ kubeConfig: kc, namespace: nsOf });
      const err = await rejection(offline.launch(spec()));
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).publicMessage).to.equal('the Kubernetes API could not be reached to create the attempt\'s Secret');
    });

  });

  describe('status', () => {
    let s: AttemptSpec;
    let handle: AttemptHandle;

    beforeEach(async () => {
      s = spec();
      handle = handleOf(s, (await backend.launch(s)).ref);
    });

    // A real Job controller syncs a new Job within moments (setting its startTime), so PENDING
    // is shown here; every other status is read from a real controller in kubernetes-real.test.ts.
    it('is PENDING until the Job controller starts the Job', async () => {
      expect(await backend.status(handle)).to.deep.equal({ state: 'PENDING' });
    });
  });

  describe('logs', () => {
    let handle: AttemptHandle;
    let pod: string;
    const ns = nsOf('acme');

    beforeEach(async () => {
      const s = spec();
      handle = handleOf(s, (await backend.launch(s)).ref);
    });

    const deleteSecret = (name: string) => fetch(`${fake.url}/api/v1/namespaces/${ns}/secrets/${name}`, { method: 'DELETE', headers: { authorization: 'Bearer t' } });

    // Here the fake shows what the real server cannot: that no log request is made at all, and
    // an injected 500. Everything else about logs runs on a real API server (kubernetes-real.test.ts).
    describe('whose masking values cannot be read', () => {
      const unreadable: { what: string; breakSecret: () => Promise<unknown> | void; precondition: boolean; publicMessage: string; reason?: string }[] = [
        {
          what: 'is gone',
          breakSecret: () => deleteSecret(handle.ref),
          precondition: true,
          publicMessage: LOG_VALUES_GONE_MESSAGE,
          reason: 'LOG_MASKING_VALUES_GONE',
        },
        {
          what: 'may not be read (403)',
          breakSecret: () => fake.failNext('GET', /\/secrets\//, 403, `secrets "x" is forbidden: ${PLAINTEXT}`),
          precondition: true,
          publicMessage: LOG_VALUES_FORBIDDEN_MESSAGE,
          reason: 'LOG_MASKING_VALUES_FORBIDDEN',
        },
        {
          what: 'cannot be read for now (500)',
          breakSecret: () => fake.failNext('GET', /\/secrets\//, 500, `etcd said something about ${PLAINTEXT}`),
          precondition: false,
          publicMessage: 'the Kubernetes API refused reading the Secret (500 InternalError)',
        },
      ];
      for (const row of unreadable) {
        for (const follow of [false, true]) {
          it(`refuses the log${follow ? ' followed' : ''}, reading none of it, when the attempt's Secret ${row.what}`, async () => {
            pod = fake.startJob(ns, handle.ref);
            fake.appendPodLog(ns, pod, `password=${PLAINTEXT}\n`);
            await row.breakSecret();
            const err = await rejection(collect(backend.logs(handle, { follow })));
            expect(err).to.be.instanceOf(BackendError);
            expect(err instanceof BackendPreconditionError).to.equal(row.precondition);
            expect((err as BackendError).publicMessage).to.equal(row.publicMessage);
            if (row.reason !== undefined) expect((err as BackendPreconditionError).reason).to.equal(row.reason);
            expect(fake.requestsTo('GET', /\/log$/)).to.deep.equal([]);
            for (const text of [(err as Error).message, logged.join('')]) expect(text).not.to.include(PLAINTEXT);
          });
        }
      }
    });
  });

  describe('the tail of a masked log', () => {
    const bytes = (n: number) => Buffer.alloc(n, 0x61);
    const context: [what: string, values: Buffer[], lines: number][] = [
      ['no values', [], 0],
      ['a short value: nothing before the tail can reach into it', [bytes(23)], 0],
      ['48 bytes: base64 in one 64-column line', [bytes(48)], 0],
      ['49 bytes: base64 wrapped onto a second line', [bytes(49)], 1],
      ['100 bytes: base64 on three lines', [bytes(100)], 2],
      ['a value with three line breaks', [Buffer.from('a\nb\nc\nd')], 3],
      ['the most of several values', [bytes(10), Buffer.from('x\ny'), bytes(100)], 2],
    ];
    for (const [what, values, lines] of context) {
      it(`reads ${lines} more lines for ${what}`, () => {
        expect(tailContextLines(values)).to.equal(lines);
      });
    }

    const tails: [text: string, count: number, tail: string][] = [
      ['one\ntwo\nthree\n', 2, 'two\nthree\n'],
      ['one\ntwo\nthree', 2, 'two\nthree'],
      ['one\ntwo\n', 5, 'one\ntwo\n'],
      ['\n\n\n', 2, '\n\n'],
      ['', 3, ''],
    ];
    for (const [text, count, tail] of tails) {
      it(`keeps ${JSON.stringify(tail)} as the last ${count} lines of ${JSON.stringify(text)}, as the API counts them`, () => {
        expect(lastLines(Buffer.from(text), count).toString()).to.equal(tail);
      });
    }
  });

  describe('the fake API server', () => {
    it('rejects a Secret whose data key is not a valid config key with 422 Invalid, naming the field', async () => {
      const res = await post(fake, SECRETS_PATH, { ...validSecret(), data: { 'bad key': b64('v') } });
      expect(res.status).to.equal(422);
      expect(res.body).to.include({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422 });
      expect(res.body.message).to.include('data[bad key]');
    });

    it('accepts an env var name that is no C identifier, as every real API server does (only the backend refuses it)', async () => {
      const job = validJob('env-job', [{ name: 'BAD-NAME', value: 'x' }]);
      expect(() => new Job(job as ConstructorParameters<typeof Job>[0]).validate()).not.to.throw();
      expect((await post(fake, JOBS_PATH, job)).status).to.equal(201);
    });

    // The same table the real API server is held to in kubernetes-real.test.ts.
    for (const row of KUBE_REQUESTS) {
      it(`answers ${row.status} to ${row.what}, as a v1.20 API server does`, async () => {
        const res = await post(fake, row.path, row.body);
        expect(res.status).to.equal(row.status);
        if (row.status >= 400) {
          expect(res.body).to.include({ kind: 'Status', status: 'Failure', code: row.status });
          expect(fake.all('Secret').concat(fake.all('Job'))).to.deep.equal([]);
        }
      });
    }

    it('answers 201 with uid, resourceVersion and creationTimestamp, then 409 AlreadyExists and 404 NotFound', async () => {
      const created = await post(fake, '/api/v1/namespaces/ns/secrets', validSecret('s1'));
      expect(created.status).to.equal(201);
      expect(created.body.metadata).to.include.keys('uid', 'resourceVersion', 'creationTimestamp');
      const again = await post(fake, '/api/v1/namespaces/ns/secrets', validSecret('s1'));
      expect(again.status).to.equal(409);
      expect(again.body).to.deep.include({ reason: 'AlreadyExists', message: 'secrets "s1" already exists', details: { name: 's1', kind: 'secrets' } });
      const missing = await fetch(`${fake.url}/apis/batch/v1/namespaces/ns/jobs/nope`, { headers: { authorization: 'Bearer t' } });
      expect(missing.status).to.equal(404);
      expect(await missing.json()).to.deep.include({ reason: 'NotFound', message: 'jobs.batch "nope" not found' });
    });

    it('answers a GET of a missing Secret with the API server\'s 404 Status', async () => {
      const res = await fetch(`${fake.url}/api/v1/namespaces/ns/secrets/nope`, { headers: { authorization: 'Bearer t' } });
      expect(res.status).to.equal(404);
      expect(await res.json()).to.deep.equal({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'secrets "nope" not found',
        reason: 'NotFound',
        details: { name: 'nope', kind: 'secrets' },
        code: 404,
      });
    });

    it('serves a pod log in the chunks it was written in, and its tail by lines, byte for byte', async () => {
      const { ref } = await backend.launch(spec());
      const pod = fake.startJob(nsOf('acme'), ref);
      fake.appendPodLog(nsOf('acme'), pod, Buffer.from([0x61, 0xff, 0x0a, 0x62]));
      const url = `${fake.url}/api/v1/namespaces/${nsOf('acme')}/pods/${pod}/log`;
      const read = async (query: string) => Buffer.from(await (await fetch(`${url}?${query}`, { headers: { authorization: 'Bearer t' } })).arrayBuffer());
      expect(await read('container=job')).to.deep.equal(Buffer.from([0x61, 0xff, 0x0a, 0x62]));
      expect(await read('container=job&tailLines=1')).to.deep.equal(Buffer.from([0x62]));
      const follow = await fetch(`${url}?container=job&follow=true`, { headers: { authorization: 'Bearer t' } });
      const reader = follow.body!.getReader();
      expect(Buffer.from((await reader.read()).value!)).to.deep.equal(Buffer.from([0x61, 0xff, 0x0a, 0x62]));
      fake.appendPodLog(nsOf('acme'), pod, 'next');
      expect(Buffer.from((await reader.read()).value!).toString()).to.equal('next');
      await reader.cancel();
    });

    it('refuses to change an immutable Secret\'s data but lets its metadata change', async () => {
      await post(fake, '/api/v1/namespaces/ns/secrets', { ...validSecret('imm'), immutable: true });
      const patch = (body: unknown) => fetch(`${fake.url}/api/v1/namespaces/ns/secrets/imm`, { method: 'PATCH', headers: { authorization: 'Bearer t', 'content-type': 'application/merge-patch+json' }, body: JSON.stringify(body) });
      const dataChange = await patch({ data: { KEY: b64('other') } });
      expect(dataChange.status).to.equal(422);
      expect(((await dataChange.json()) as { message: string }).message).to.include('field is immutable when `immutable` is set');
      const unfreeze = await patch({ immutable: false });
      expect(unfreeze.status).to.equal(422);
      const labelChange = await patch({ metadata: { labels: { a: 'b' } } });
      expect(labelChange.status).to.equal(200);
    });

    it('orphans a deleted Job\'s Secret unless a propagation policy asks for collection', async () => {
      const s = spec();
      const { ref } = await backend.launch(s);
      await fetch(`${fake.url}/apis/batch/v1/namespaces/${nsOf('acme')}/jobs/${ref}`, { method: 'DELETE', headers: { authorization: 'Bearer t' } });
      const orphan = fake.secret(nsOf('acme'), ref) as { metadata: { ownerReferences: unknown[] } };
      expect(orphan.metadata.ownerReferences).to.deep.equal([]);
    });
  });

  describe('kubeConfigFromEnvironment', () => {
    const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'kubeconfig-'));
    });

    afterEach(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('loads the kubeconfig $KUBECONFIG names', async () => {
      const file = path.join(dir, 'config');
      writeFileSync(file, fake.kubeConfig().exportConfig());
      process.env.KUBECONFIG = file;
      const fromEnv = createKubernetesBackend({ kubeConfig: kubeConfigFromEnvironment(), namespace: nsOf });
      const s = spec();
      const { ref } = await fromEnv.launch(s);
      expect(await fromEnv.status(handleOf(s, ref))).to.deep.equal({ state: 'PENDING' });
    });

    it('fails when there is no kubeconfig and no in-cluster service account, instead of trying localhost:8080', function () {
      if (existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) this.skip();
      delete process.env.KUBECONFIG;
      process.env.HOME = dir;
      expect(() => kubeConfigFromEnvironment()).to.throw(/no Kubernetes configuration/);
    });
  });
});
