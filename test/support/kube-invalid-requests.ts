/**
 * Raw requests that a Kubernetes API server must refuse, or accept, each with the status a real
 * v1.20.2 server answers. The fake API server's validation is checked against the same table
 * (services/job-launcher/backends/kubernetes.test.ts), and the real server confirms every row
 * (kubernetes-real.test.ts), so the fake cannot drift from what Kubernetes does.
 * Paths name the namespace `ns`; a test against the real server substitutes its own.
 */
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export const validSecret = (name = 'plain-secret') => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data: { KEY: b64('v') } });
export const validJob = (name = 'plain-job', env: unknown[] = [{ name: 'GOOD_NAME', value: 'x' }]) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name },
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', env }] } } },
});

export const SECRETS_PATH = '/api/v1/namespaces/ns/secrets';
export const JOBS_PATH = '/apis/batch/v1/namespaces/ns/jobs';

export const KUBE_REQUESTS: { what: string; path: string; body: unknown; status: number }[] = [
  { what: 'a Secret whose data key is not a valid config key', path: SECRETS_PATH, body: { ...validSecret(), data: { 'bad key': b64('v') } }, status: 422 },
  { what: 'a Secret named in upper case', path: SECRETS_PATH, body: validSecret('Upper'), status: 422 },
  { what: 'a Secret whose value is not base64', path: SECRETS_PATH, body: { ...validSecret(), data: { KEY: 'not base64!' } }, status: 400 },
  { what: 'a Secret whose immutable is not a boolean', path: SECRETS_PATH, body: { ...validSecret(), immutable: 'yes' }, status: 400 },
  { what: 'a Secret with a label value longer than 63', path: SECRETS_PATH, body: { ...validSecret(), metadata: { name: 's', labels: { a: 'x'.repeat(64) } } }, status: 422 },
  { what: 'a Secret with an invalid label key', path: SECRETS_PATH, body: { ...validSecret(), metadata: { name: 's', labels: { 'bad key': 'x' } } }, status: 422 },
  { what: 'a Secret with an ownerReference without uid', path: SECRETS_PATH, body: { ...validSecret(), metadata: { name: 's', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j' }] } }, status: 422 },
  { what: 'a Job named longer than a DNS-1123 label', path: JOBS_PATH, body: validJob('j'.repeat(64)), status: 422 },
  { what: 'a Job whose pods restart Always', path: JOBS_PATH, body: { ...validJob(), spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'busybox' }] } } } }, status: 422 },
  { what: 'a Job whose container has no image', path: JOBS_PATH, body: { ...validJob(), spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c' }] } } } }, status: 422 },
  { what: 'a Job whose secretKeyRef key is invalid', path: JOBS_PATH, body: validJob('j', [{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'bad key' } } }]), status: 422 },
  { what: 'a Job in a namespace other than the request\'s', path: JOBS_PATH, body: { ...validJob(), metadata: { name: 'j', namespace: 'other' } }, status: 400 },
  { what: 'a Job whose env var name starts with a digit', path: JOBS_PATH, body: validJob('env-digit', [{ name: '1BAD', value: 'x' }]), status: 422 },
  // Not C identifiers, yet valid to Kubernetes: only the backend's own check refuses them.
  { what: 'a Job whose env var name has a dash', path: JOBS_PATH, body: validJob('env-dash', [{ name: 'BAD-NAME', value: 'x' }]), status: 201 },
  { what: 'a Job whose env var name has a dot', path: JOBS_PATH, body: validJob('env-dot', [{ name: 'A.B', value: 'x' }]), status: 201 },
];
