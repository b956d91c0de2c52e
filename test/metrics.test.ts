import { expect } from 'chai';
import { Job_State } from '../services/gen/vessl/jobs/v1/jobs.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type TestSystem } from './support/system.js';
import { until } from './support/until.js';

const VALUE = 'hf_metrics_value_7c1d0b9e';
const NAME = 'metrics-probe-secret';

/** One sample's value from Prometheus text, e.g. sample(text, 'vessl_jobs', { state: 'SUCCEEDED' }). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(sys: TestSystem): Promise<string> {
  const res = await fetch(sys.metricsUrl!);
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain/);
  return res.text();
}

for (const engine of engines()) {
  describe(`Prometheus metrics (${engine.name})`, function () {
    let sys: TestSystem;
    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), metrics: true });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('counts calls by service, method and code, with latency histograms', async () => {
      const admin = sys.secrets(await sys.token('admin'));
      const member = sys.secrets(await sys.token('member'));
      for (let i = 0; i < 3; i++) await admin.createSecret({ org: 'acme', secret: { name: `${NAME}-${i}`, key: 'HF_TOKEN' }, value: await sys.seal(VALUE) });
      await failure(member.createSecret({ org: 'acme', secret: { name: 'nope', key: 'NOPE' }, value: await sys.seal(VALUE) }));
      await failure(admin.createSecret({ org: 'acme', secret: { name: 'Bad Name!', key: 'K' }, value: await sys.seal(VALUE) }));
      const text = await scrape(sys);
      const calls = (method: string, code: string) =>
        sample(text, 'vessl_grpc_requests_total', { service: 'vessl.secrets.v1.SecretService', method, code });
      expect(calls('CreateSecret', 'OK')).to.equal(3);
      expect(calls('CreateSecret', 'PERMISSION_DENIED')).to.equal(1);
      expect(calls('CreateSecret', 'INVALID_ARGUMENT')).to.equal(1);
      // The calls secret-store made to key-management are counted under that service.
      expect(sample(text, 'vessl_grpc_requests_total', { service: 'vessl.kms.v1.KeyManagementService', code: 'OK' })).to.be.greaterThan(0);
      expect(sample(text, 'vessl_grpc_request_duration_seconds_count', { service: 'vessl.secrets.v1.SecretService', method: 'CreateSecret' })).to.equal(5);
      expect(sample(text, 'vessl_grpc_request_duration_seconds_bucket', { method: 'CreateSecret', le: '+Inf' })).to.equal(5);
      expect(sample(text, 'vessl_process_resident_memory_bytes')).to.be.greaterThan(0);
    });

    it('reports jobs by state, read from the database', async () => {
      const jobs = sys.jobs(await sys.token('member'));
      const { job } = await jobs.createJob({ org: 'acme', job: { name: 'metrics-job', image: 'local', command: 'echo "$HF_TOKEN" | wc -c', secrets: [{ secretName: `${NAME}-0` }] } });
      await until('the job to succeed', async () => ((await jobs.getJob({ org: 'acme', id: job!.id })).state === Job_State.STATE_SUCCEEDED ? true : undefined));
      const text = await scrape(sys);
      expect(sample(text, 'vessl_jobs', { state: 'SUCCEEDED' })).to.equal(1);
      expect(sample(text, 'vessl_jobs', { state: 'RUNNING' })).to.equal(undefined);
    });

    it('shows rewrap progress: data keys move from the old master key version to the new primary', async () => {
      const before = await scrape(sys);
      expect(sample(before, 'vessl_data_keys', { kek_version: '1' })).to.equal(3);
      await sys.kms(await sys.token('operator')).rotateMasterKey({});
      for await (const _ of sys.secrets(await sys.token('operator')).rewrapSecrets({ batchSize: 2 })) void _;
      const after = await scrape(sys);
      expect(sample(after, 'vessl_data_keys', { kek_version: '1' })).to.equal(undefined);
      expect(sample(after, 'vessl_data_keys', { kek_version: '2' })).to.equal(3);
      expect(sample(after, 'vessl_rewrap_data_keys_rewrapped_total')).to.equal(3);
      expect(sample(after, 'vessl_rewrap_runs_in_progress')).to.equal(0);
    });

    it('never exposes a value, a secret name or a token', async () => {
      const text = await scrape(sys);
      const token = await sys.token('admin');
      for (const needle of [VALUE, NAME, 'acme', token.split('.')[2]]) expect(text).not.to.include(needle);
    });

    it('answers only GET /metrics', async () => {
      const base = sys.metricsUrl!.replace(/\/metrics$/, '');
      const cases: [string, string][] = [['GET', '/'], ['GET', '/metrics/x'], ['POST', '/metrics'], ['GET', '/debug']];
      for (const [method, urlPath] of cases) expect((await fetch(base + urlPath, { method })).status, `${method} ${urlPath}`).to.equal(404);
    });
  });
}
