/**
 * A real Kubernetes control plane for the tests (scripts/kube-control-plane.sh): etcd,
 * kube-apiserver and kube-controller-manager v1.20.2 on loopback, started once per test process
 * and shared by every file that asks for it. The first call on a new machine builds the binaries
 * (minutes; the script says so as it goes), so a `before` hook calling it needs a long timeout
 * (CONTROL_PLANE_TIMEOUT_MS).
 *
 * The launcher reaches it as deploy/'s job-launcher ServiceAccount with deploy/'s own ClusterRole
 * bound in each test namespace (launcherNamespace), so what it may not do is refused as in
 * production. There is no kubelet: pods never run, and a test plays the kubelet (kubelet.ts in
 * this folder) by patching pods/status; the real Job controller does the rest.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthorizationV1Api, BatchV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1ClusterRole } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { until } from './until.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'scripts/kube-control-plane.sh');

/** Long enough for a first build on a loaded 2-core machine; a warm start takes seconds. */
export const CONTROL_PLANE_TIMEOUT_MS = 30 * 60_000;

/** deploy/'s name for the launcher's role, and its identity (a ServiceAccount of vessl-secrets). */
export const LAUNCHER_ROLE = 'vessl-job-launcher';
export const LAUNCHER_SERVICE_ACCOUNT = { namespace: 'vessl-secrets', name: 'job-launcher' };

export interface ControlPlane {
  runDir: string;
  /** system:masters: sets up what a test needs and plays the kubelet. */
  admin: KubeConfig;
  /** The launcher's identity: no rights but those a test binds it (launcherNamespace). */
  launcher: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  rbac: RbacAuthorizationV1Api;
}

let shared: Promise<ControlPlane> | undefined;

/** The control plane of this test process, started on first use and stopped when the process ends. */
export function controlPlane(): Promise<ControlPlane> {
  shared ??= start().catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}

async function start(): Promise<ControlPlane> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'vessl-kube-'));
  const apiserverPort = await freePort();
  const etcdPort = await freePortPair();
  // Its progress (the build, on a new machine) goes to the test run's stderr as it happens.
  const child = spawn(SCRIPT, ['start', runDir], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, KUBE_CP_APISERVER_PORT: String(apiserverPort), KUBE_CP_ETCD_PORT: String(etcdPort), KUBE_CP_OWNER_PID: String(process.pid) },
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) {
    // What did start (etcd, say) must not outlive a failed start: the watchdog comes last.
    spawnSync(SCRIPT, ['stop', runDir], { stdio: 'ignore' });
    throw new Error(`${SCRIPT} start failed (exit ${code}); its output is above, the processes' logs are in ${runDir}`);
  }
  // The script's watchdog stops it too, within a second of this process ending; this is sooner.
  process.on('exit', () => {
    spawnSync(SCRIPT, ['stop', runDir], { stdio: 'ignore' });
    rmSync(runDir, { recursive: true, force: true });
  });
  const admin = kubeConfigFrom(path.join(runDir, 'admin.kubeconfig'));
  const launcher = kubeConfigFrom(path.join(runDir, 'launcher.kubeconfig'));
  const plane: ControlPlane = {
    runDir,
    admin,
    launcher,
    core: admin.makeApiClient(CoreV1Api),
    batch: admin.makeApiClient(BatchV1Api),
    rbac: admin.makeApiClient(RbacAuthorizationV1Api),
  };
  await plane.rbac.createClusterRole({ body: deployedLauncherRole() });
  return plane;
}

function kubeConfigFrom(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** The ClusterRole exactly as deploy/base/job-launcher.yaml grants it. */
export function deployedLauncherRole(): V1ClusterRole {
  const docs = parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/base/job-launcher.yaml'), 'utf8')).map((d) => d.toJSON() as V1ClusterRole);
  const role = docs.find((d) => d.kind === 'ClusterRole' && d.metadata?.name === LAUNCHER_ROLE);
  if (role === undefined) throw new Error(`deploy/base/job-launcher.yaml has no ClusterRole ${LAUNCHER_ROLE}`);
  return role;
}

/**
 * A new namespace where the launcher has deploy/'s role, bound as deploy/'s overlays bind it,
 * and nothing else; resolves once the API server enforces the binding and the namespace's
 * default ServiceAccount exists (the Job controller cannot create pods before).
 */
export async function launcherNamespace(plane: ControlPlane, prefix: string): Promise<string> {
  const namespace = await bareNamespace(plane, prefix);
  await plane.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: LAUNCHER_ROLE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: LAUNCHER_ROLE },
      subjects: [{ kind: 'ServiceAccount', ...LAUNCHER_SERVICE_ACCOUNT }],
    },
  });
  await until(`the launcher's RoleBinding in ${namespace} to take effect`, async () => ((await launcherMay(plane, namespace, 'create', 'secrets')) ? true : undefined));
  return namespace;
}

/** A new namespace (with its default ServiceAccount) where the launcher has no rights. */
export async function bareNamespace(plane: ControlPlane, prefix: string): Promise<string> {
  const namespace = `${prefix}-${randomBytes(4).toString('hex')}`;
  await plane.core.createNamespace({ body: { metadata: { name: namespace, labels: { 'vessl-test': prefix } } } });
  await until(`the default ServiceAccount of ${namespace}`, async () => {
    const accounts = await plane.core.listNamespacedServiceAccount({ namespace });
    return accounts.items.some((a) => a.metadata?.name === 'default') ? true : undefined;
  });
  return namespace;
}

/** Whether the API server lets the launcher do this (it answers for the caller itself). */
export async function launcherMay(plane: ControlPlane, namespace: string, verb: string, resource: string, group = '', subresource?: string): Promise<boolean> {
  const review = await plane.launcher.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { namespace, verb, resource, group, subresource } } },
  });
  return review.status?.allowed === true;
}

/** Deletes a namespace, without waiting for the namespace controller to empty it. */
export async function dropNamespace(plane: ControlPlane, namespace: string): Promise<void> {
  // Pods bound to the test's kubelet stay Terminating without a real kubelet: remove them now.
  const pods = await plane.core.listNamespacedPod({ namespace });
  await Promise.all(pods.items.map((p) => plane.core.deleteNamespacedPod({ namespace, name: p.metadata!.name!, gracePeriodSeconds: 0 }).catch(() => undefined)));
  await plane.core.deleteNamespace({ name: namespace }).catch(() => undefined);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** etcd takes two ports: the client port and the next one for peers. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await portIsFree(port + 1))) return port;
  }
}

/** A raw request as the admin, for bodies the typed client would not send (invalid ones). */
export async function adminRequest(plane: ControlPlane, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const cluster = plane.admin.getCurrentCluster()!;
  const token = plane.admin.getCurrentUser()!.token!;
  const ca = readFileSync(path.join(plane.runDir, 'ca.crt'));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(urlPath, cluster.server),
      { method, ca, headers: { authorization: `Bearer ${token}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
