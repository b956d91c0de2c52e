/**
 * A fake Kubernetes API server over real HTTP, for the Kubernetes job backend's tests. It
 * implements exactly what the backends use (namespaced Secrets and batch/v1 Jobs: create,
 * read, merge-patch, delete; pod list by label selector; pod logs, plain and followed, as
 * bytes and in the chunks they were written in; for workspaces, ConfigMaps and Pods: create,
 * read, delete, with the ConfigMap's dependents collected when it is deleted),
 * validates every object it receives like the API server does (see fake-kube-api-validation),
 * answers with Status bodies, records every request, and lets tests drive Jobs through their
 * states, fail a request on purpose, and watch garbage collection follow ownerReferences.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { PodLogs } from './pod-logs.js';
import { BadRequest, invalidStatusParts, jobErrors, jobUpdateErrors, secretErrors, secretUpdateErrors, type FieldError } from './fake-kube-api-validation.js';

type Json = Record<string, unknown>;
type Kind = 'Secret' | 'Job' | 'Pod' | 'ConfigMap';

export interface RecordedRequest {
  method: string;
  /** The path without the query. */
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  /** The parsed JSON body (undefined when there was none). */
  body: unknown;
  /** The body exactly as received. */
  rawBody: string;
}

interface Fault {
  method: string;
  path: RegExp;
  code: number;
  message: string;
}

const RESOURCES: Record<Kind, { plural: string; group: string; apiVersion: string }> = {
  Secret: { plural: 'secrets', group: '', apiVersion: 'v1' },
  Job: { plural: 'jobs', group: 'batch', apiVersion: 'batch/v1' },
  Pod: { plural: 'pods', group: '', apiVersion: 'v1' },
  ConfigMap: { plural: 'configmaps', group: '', apiVersion: 'v1' },
};

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'AlreadyExists',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Json,
  ) {
    super(message);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: Json): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

const clone = <T>(v: T): T => structuredClone(v);
const asObject = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const result: Json = { ...asObject(target) };
  for (const [key, value] of Object.entries(patch as Json)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** label selectors as the backend sends them: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated. */
function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    const ne = /^([^!=]+)!=(.*)$/.exec(t);
    if (ne) return labels[ne[1]] !== ne[2];
    const eq = /^([^!=]+)==?(.*)$/.exec(t);
    if (eq) return labels[eq[1]] === eq[2];
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, Json>();
  private readonly logs = new PodLogs();
  private readonly faults: Fault[] = [];
  private resourceVersion = 1000;
  private port = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeKubeApi> {
    const server = createServer();
    const fake = new FakeKubeApi(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeConfig pointing the real client at this server. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    return kc;
  }

  async close(): Promise<void> {
    this.logs.destroyFollowers();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- what tests look at -------------------------------------------------------------

  /** Requests whose method matches and whose path matches the pattern. */
  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  secret(namespace: string, name: string): Json | undefined {
    return this.get('Secret', namespace, name);
  }

  job(namespace: string, name: string): Json | undefined {
    return this.get('Job', namespace, name);
  }

  pod(namespace: string, name: string): Json | undefined {
    return this.get('Pod', namespace, name);
  }

  configMap(namespace: string, name: string): Json | undefined {
    return this.get('ConfigMap', namespace, name);
  }

  pods(namespace: string, jobName: string): Json[] {
    return this.list('Pod', namespace, `job-name=${jobName}`);
  }

  /** Every stored object of a kind, in every namespace. */
  all(kind: Kind): Json[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${kind}/`)).map(([, v]) => clone(v));
  }

  // ---- what tests do ------------------------------------------------------------------

  /** The next request matching method and path fails with this code and message (once). */
  failNext(method: string, path: RegExp, code: number, message: string): void {
    this.faults.push({ method, path, code, message });
  }

  /** The Job controller's part: a pod exists and runs; the Job is active. Returns the pod name. */
  startJob(namespace: string, name: string, opts: { podPhase?: 'Pending' | 'Running' } = {}): string {
    const job = this.mustGet('Job', namespace, name);
    const status = asObject(job.status);
    job.status = { ...status, active: 1, startTime: status.startTime ?? this.timestamp() };
    this.put(job);
    const existing = this.pods(namespace, name)[0];
    if (existing) return String(asObject(existing.metadata).name);
    return this.createPod(job, opts.podPhase ?? 'Running');
  }

  /** The kubelet's part for a pod the client created: its status becomes this. */
  setPodStatus(namespace: string, name: string, status: Json): void {
    const pod = this.mustGet('Pod', namespace, name);
    pod.status = status;
    this.put(pod);
  }

  /** The container writes this (text as UTF-8, or bytes as they are); followers get it as one chunk. */
  appendPodLog(namespace: string, pod: string, output: string | Uint8Array): void {
    this.logs.write(namespace, pod, output);
  }

  /** The container's output is complete: followed logs end. */
  endPodLog(namespace: string, pod: string): void {
    this.logs.end(namespace, pod);
  }

  // ---- the store ----------------------------------------------------------------------

  private key(kind: Kind, namespace: string, name: string): string {
    return `${kind}/${namespace}/${name}`;
  }

  private get(kind: Kind, namespace: string, name: string): Json | undefined {
    const o = this.objects.get(this.key(kind, namespace, name));
    return o === undefined ? undefined : clone(o);
  }

  private mustGet(kind: Kind, namespace: string, name: string): Json {
    const o = this.get(kind, namespace, name);
    if (o === undefined) throw new StatusError(404, 'NotFound', `${RESOURCES[kind].plural}${RESOURCES[kind].group ? `.${RESOURCES[kind].group}` : ''} "${name}" not found`, { name, group: RESOURCES[kind].group || undefined, kind: RESOURCES[kind].plural });
    return o;
  }

  private put(o: Json): void {
    const m = asObject(o.metadata);
    m.resourceVersion = String(++this.resourceVersion);
    this.objects.set(this.key(o.kind as Kind, String(m.namespace), String(m.name)), clone(o));
  }

  private list(kind: Kind, namespace: string, selector: string | null): Json[] {
    return this.all(kind).filter((o) => {
      const m = asObject(o.metadata);
      return m.namespace === namespace && matchesSelector(asObject(m.labels) as Record<string, string>, selector);
    });
  }

  private now(): Date {
    return new Date();
  }

  /** RFC 3339 with seconds, as the API server writes times. */
  private timestamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private containerName(pod: Json): string {
    const containers = asObject(asObject(pod.spec)).containers as Json[] | undefined;
    return String(containers?.[0]?.name ?? '');
  }

  private createPod(job: Json, phase: 'Pending' | 'Running'): string {
    const jm = asObject(job.metadata);
    const template = asObject(asObject(job.spec).template);
    const name = `${String(jm.name)}-${randomUUID().slice(0, 5)}`;
    const now = this.timestamp();
    const spec = clone(asObject(template.spec));
    const containerName = String(asObject((spec.containers as unknown[])[0]).name);
    const pod: Json = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: jm.namespace,
        uid: randomUUID(),
        creationTimestamp: now,
        labels: { ...asObject(asObject(template.metadata).labels) },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jm.name, uid: jm.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec,
      status: {
        phase,
        startTime: now,
        containerStatuses: [
          { name: containerName, ready: phase === 'Running', restartCount: 0, image: '', imageID: '', state: phase === 'Running' ? { running: { startedAt: now } } : { waiting: { reason: 'ContainerCreating' } } },
        ],
      },
    };
    this.put(pod);
    this.logs.open(String(jm.namespace), name);
    return name;
  }

  /** The Job controller's deadline rule: past activeDeadlineSeconds, pods go and the Job fails. */
  private enforceDeadlines(): void {
    for (const job of this.all('Job')) {
      const spec = asObject(job.spec);
      const status = asObject(job.status);
      const deadline = spec.activeDeadlineSeconds;
      const finished = ((status.conditions as Json[] | undefined) ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
      if (typeof deadline !== 'number' || finished) continue;
      const since = Date.parse(String(status.startTime ?? asObject(job.metadata).creationTimestamp));
      if (this.now().getTime() - since < deadline * 1000) continue;
      const m = asObject(job.metadata);
      this.collectDependents(String(m.namespace), String(m.uid), 'Pod');
      const now = this.timestamp();
      const failed = { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastProbeTime: now, lastTransitionTime: now };
      job.status = { ...status, active: 0, conditions: [{ ...failed, type: 'FailureTarget' }, failed] };
      this.put(job);
    }
  }

  /** Garbage collection: deletes the objects of a kind owned by this uid. */
  private collectDependents(namespace: string, ownerUid: string, kind: Kind): void {
    for (const o of this.list(kind, namespace, null)) {
      const m = asObject(o.metadata);
      if (!((m.ownerReferences as Json[] | undefined) ?? []).some((r) => r.uid === ownerUid)) continue;
      this.objects.delete(this.key(kind, namespace, String(m.name)));
      if (kind === 'Pod') this.endPodLog(namespace, String(m.name));
    }
  }

  /** Orphaning: dependents lose their reference to the deleted owner. */
  private orphanDependents(namespace: string, ownerUid: string): void {
    for (const kind of ['Secret', 'Pod'] as const) {
      for (const o of this.list(kind, namespace, null)) {
        const m = asObject(o.metadata);
        const refs = (m.ownerReferences as Json[] | undefined) ?? [];
        if (!refs.some((r) => r.uid === ownerUid)) continue;
        m.ownerReferences = refs.filter((r) => r.uid !== ownerUid);
        this.put(o);
      }
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, contentType, body: undefined, rawBody };
    this.requests.push(recorded);
    try {
      if (req.headers.authorization !== 'Bearer t') throw new StatusError(401, 'Unauthorized', 'Unauthorized');
      if (rawBody !== '') {
        try {
          recorded.body = JSON.parse(rawBody);
        } catch {
          throw new StatusError(400, 'BadRequest', 'the request body is not JSON');
        }
      }
      const fault = this.faults.findIndex((f) => f.method === recorded.method && f.path.test(recorded.path));
      if (fault >= 0) {
        const [f] = this.faults.splice(fault, 1);
        throw new StatusError(f.code, REASONS[f.code] ?? 'Unknown', f.message);
      }
      this.enforceDeadlines();
      this.route(recorded, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e = err instanceof StatusError ? err : err instanceof BadRequest ? new StatusError(400, 'BadRequest', err.message) : new StatusError(500, 'InternalError', `fake: ${(err as Error).message}`);
      this.send(res, e.code, statusBody(e.code, e.reason, e.message, e.details));
    }
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private route(r: RecordedRequest, res: ServerResponse): void {
    const core = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|pods|configmaps)(?:\/([^/]+))?(\/log)?$/.exec(r.path);
    const batch = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(r.path);
    if (batch) return this.routeObject('Job', batch[1], batch[2], r, res);
    if (core?.[2] === 'secrets' && core[4] === undefined) return this.routeObject('Secret', core[1], core[3], r, res);
    if (core?.[2] === 'configmaps' && core[4] === undefined) return this.routeObject('ConfigMap', core[1], core[3], r, res);
    if (core?.[2] === 'pods' && core[4] === undefined && !(r.method === 'GET' && core[3] === undefined) && r.method !== 'PATCH') return this.routeObject('Pod', core[1], core[3], r, res);
    if (core?.[2] === 'pods' && r.method === 'GET' && core[3] === undefined) {
      return this.send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.resourceVersion) }, items: this.list('Pod', core[1], r.query.get('labelSelector')) });
    }
    if (core?.[2] === 'pods' && r.method === 'GET' && core[3] !== undefined && core[4] === '/log') return this.servePodLog(core[1], core[3], r, res);
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private routeObject(kind: Kind, namespace: string, name: string | undefined, r: RecordedRequest, res: ServerResponse): void {
    if (name === undefined && r.method === 'POST') return this.send(res, 201, this.create(kind, namespace, asObject(r.body)));
    if (name === undefined) throw new StatusError(405, 'MethodNotAllowed', `${r.method} is not supported here`);
    switch (r.method) {
      case 'GET':
        return this.send(res, 200, this.mustGet(kind, namespace, name));
      case 'PATCH':
        return this.send(res, 200, this.patch(kind, namespace, name, r));
      case 'DELETE':
        return this.send(res, 200, this.delete(kind, namespace, name, r));
      default:
        throw new StatusError(405, 'MethodNotAllowed', `${r.method} is not supported here`);
    }
  }

  /** Secrets and Jobs are checked as the API server checks them; ConfigMaps and Pods are taken as sent (the real API server's tests check those). */
  private validate(kind: Kind, body: Json, old?: Json): void {
    if (kind !== 'Secret' && kind !== 'Job') return;
    const name = String(asObject(body.metadata).name ?? '');
    const errors: FieldError[] = kind === 'Secret' ? secretErrors(body) : jobErrors(body);
    if (old !== undefined) errors.push(...(kind === 'Secret' ? secretUpdateErrors(old, body) : jobUpdateErrors(old, body)));
    if (errors.length === 0) return;
    const { message, causes } = invalidStatusParts(kind, name, errors);
    throw new StatusError(422, 'Invalid', message, { name, group: RESOURCES[kind].group || undefined, kind, causes });
  }

  private create(kind: Kind, namespace: string, body: Json): Json {
    const { apiVersion } = RESOURCES[kind];
    if (body.kind !== kind || body.apiVersion !== apiVersion) throw new StatusError(400, 'BadRequest', `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
    const metadata = asObject(body.metadata);
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    this.validate(kind, body);
    const name = String(metadata.name);
    if (this.objects.has(this.key(kind, namespace, name))) {
      throw new StatusError(409, 'AlreadyExists', `${RESOURCES[kind].plural}${RESOURCES[kind].group ? `.${RESOURCES[kind].group}` : ''} "${name}" already exists`, { name, group: RESOURCES[kind].group || undefined, kind: RESOURCES[kind].plural });
    }
    const stored: Json = clone(body);
    const uid = randomUUID();
    stored.metadata = { ...metadata, namespace, uid, creationTimestamp: this.timestamp(), ...(kind === 'Job' ? { generation: 1 } : {}) };
    if (kind === 'Secret') {
      stored.type ??= 'Opaque';
      delete stored.stringData;
      // Go's omitempty: a Secret that holds nothing is stored, and read back, without `data`.
      if (Object.keys(asObject(stored.data)).length === 0) delete stored.data;
    } else if (kind === 'Job') {
      this.defaultJob(stored, uid, name);
    } else if (kind === 'Pod') {
      stored.status = { phase: 'Pending' };
      this.logs.open(namespace, name);
    }
    this.put(stored);
    return this.mustGet(kind, namespace, name);
  }

  /** What the API server adds to a Job: defaults, a selector on its uid, the pod labels. */
  private defaultJob(job: Json, uid: string, name: string): void {
    const spec = asObject(job.spec);
    const template = asObject(spec.template);
    const selectorLabels = { 'batch.kubernetes.io/controller-uid': uid };
    template.metadata = {
      ...asObject(template.metadata),
      labels: { ...asObject(asObject(template.metadata).labels), ...selectorLabels, 'controller-uid': uid, 'job-name': name, 'batch.kubernetes.io/job-name': name },
    };
    job.spec = { parallelism: 1, completions: 1, completionMode: 'NonIndexed', suspend: false, ...spec, selector: { matchLabels: selectorLabels }, template };
    job.status = {};
  }

  private patch(kind: Kind, namespace: string, name: string, r: RecordedRequest): Json {
    // The backend sends merge patches; anything else would be a surprise worth failing on.
    if (r.contentType !== 'application/merge-patch+json') throw new StatusError(415, 'UnsupportedMediaType', `the fake only accepts application/merge-patch+json, got ${String(r.contentType)}`);
    const old = this.mustGet(kind, namespace, name);
    const updated = asObject(mergePatch(old, r.body));
    // Identity, bookkeeping and status are the server's.
    const oldMeta = asObject(old.metadata);
    updated.metadata = { ...asObject(updated.metadata), name: oldMeta.name, namespace: oldMeta.namespace, uid: oldMeta.uid, creationTimestamp: oldMeta.creationTimestamp };
    updated.kind = old.kind;
    updated.apiVersion = old.apiVersion;
    if (kind === 'Job') updated.status = old.status;
    this.validate(kind, updated, old);
    this.put(updated);
    return this.mustGet(kind, namespace, name);
  }

  private delete(kind: Kind, namespace: string, name: string, r: RecordedRequest): Json {
    const old = this.mustGet(kind, namespace, name);
    this.objects.delete(this.key(kind, namespace, name));
    const uid = String(asObject(old.metadata).uid);
    if (kind === 'Job') {
      // batch/v1 Jobs orphan their dependents unless a propagation policy says otherwise.
      const policy = r.query.get('propagationPolicy') ?? asObject(r.body).propagationPolicy ?? 'Orphan';
      if (policy === 'Orphan') this.orphanDependents(namespace, uid);
      else for (const dependent of ['Pod', 'Secret'] as const) this.collectDependents(namespace, uid, dependent);
    }
    // The garbage collector's part, at once: a workspace's ConfigMap owns its runs' objects.
    if (kind === 'ConfigMap') for (const dependent of ['Pod', 'Secret'] as const) this.collectDependents(namespace, uid, dependent);
    if (kind === 'Pod') this.endPodLog(namespace, name);
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: RESOURCES[kind].group || undefined, kind: RESOURCES[kind].plural, uid } };
  }

  private servePodLog(namespace: string, name: string, r: RecordedRequest, res: ServerResponse): void {
    const pod = this.mustGet('Pod', namespace, name);
    const container = r.query.get('container');
    if (container !== null && container !== this.containerName(pod)) throw new StatusError(400, 'BadRequest', `container ${container} is not valid for pod ${name}`);
    if (asObject(pod.status).phase === 'Pending') {
      throw new StatusError(400, 'BadRequest', `container "${this.containerName(pod)}" in pod "${name}" is waiting to start: ContainerCreating`);
    }
    this.logs.serve(namespace, name, { follow: r.query.get('follow') === 'true', tailLines: Number(r.query.get('tailLines') ?? 0) }, res);
  }
}
