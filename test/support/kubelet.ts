/**
 * The kubelet, played by the test against the real control plane (kube-control-plane.ts). The
 * real Job controller creates an attempt's pod; this moves it through what a kubelet would
 * report (waiting, running, exited with a code) by patching pods/status, and serves its log
 * from a small HTTPS server on loopback that stands where a kubelet's port would be: the pod is
 * bound to a Node whose kubelet endpoint is that server, so a log request goes through the real
 * API server's proxy to it, follow and tailLines included, as it would in a cluster. An exec
 * comes the same way, as a WebSocket the API server proxies here (kubelet-exec.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PatchStrategy, setHeaderOptions, type V1ContainerState, type V1Pod } from '@kubernetes/client-node';
import type { ControlPlane } from './kube-control-plane.js';
import { serveExecUpgrade, type ExecHandler } from './kubelet-exec.js';
import { PodLogs } from './pod-logs.js';
import { until } from './until.js';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** The job backend's container name (kubernetes-manifests.ts); a workspace's is another. */
const CONTAINER = 'job';

export class TestKubelet {
  private readonly logs = new PodLogs();
  /** What an exec the API server proxies here runs (none: the kubelet answers 404). */
  private execHandler?: ExecHandler;

  private constructor(
    private readonly plane: ControlPlane,
    private readonly server: Server,
    /** The container whose state it reports and whose log it serves. */
    private readonly container: string,
    /** Its Node: one per kubelet, so that test files sharing the control plane keep apart. */
    private readonly node = `vessl-test-kubelet-${randomBytes(4).toString('hex')}`,
  ) {}

  /** Starts the log server and registers a Node whose kubelet it is. */
  static async start(plane: ControlPlane, container = CONTAINER): Promise<TestKubelet> {
    // The API server does not check a kubelet's certificate unless told to (it is not): any
    // certificate for 127.0.0.1 serves, and the run's own has that name.
    const server = createServer({ cert: readFileSync(path.join(plane.runDir, 'apiserver.crt')), key: readFileSync(path.join(plane.runDir, 'apiserver.key')) });
    const kubelet = new TestKubelet(plane, server, container);
    server.on('request', (req, res) => kubelet.serve(req.url ?? '/', res));
    server.on('upgrade', (req, socket) => serveExecUpgrade(req, socket, kubelet.execHandler));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await plane.core.createNode({ body: { metadata: { name: kubelet.node } } });
    await plane.core.patchNodeStatus(
      { name: kubelet.node, body: { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } } },
      MERGE_PATCH,
    );
    return kubelet;
  }

  async close(): Promise<void> {
    this.logs.destroyFollowers();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.plane.core.deleteNode({ name: this.node }).catch(() => undefined);
  }

  /** The pod the real Job controller made for a Job, once it exists. */
  async podOf(namespace: string, jobName: string): Promise<string> {
    return until(`the Job controller to create the pod of ${jobName}`, async () => {
      const pods = await this.plane.core.listNamespacedPod({ namespace, labelSelector: `job-name=${jobName}` });
      return pods.items[0]?.metadata?.name;
    });
  }

  /** The container is waiting to start, for this reason (the pod stays Pending). */
  async waiting(namespace: string, pod: string, reason: string): Promise<void> {
    await this.setStatus(namespace, pod, 'Pending', { waiting: { reason } });
  }

  /** The pod is on this kubelet and its container runs: its log can be read from now on. */
  async run(namespace: string, pod: string): Promise<void> {
    const current = await this.plane.core.readNamespacedPod({ namespace, name: pod });
    if (current.spec?.nodeName === undefined) {
      await this.plane.core.createNamespacedPodBinding({
        namespace,
        name: pod,
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod }, target: { apiVersion: 'v1', kind: 'Node', name: this.node } },
      });
    }
    this.logs.open(namespace, pod);
    await this.setStatus(namespace, pod, 'Running', { running: { startedAt: new Date() } });
  }

  /** The container wrote this to its output. */
  write(namespace: string, pod: string, output: string | Uint8Array): void {
    this.logs.write(namespace, pod, output);
  }

  /** The container exited with this code: its output ends, and the pod's phase says how. */
  async exit(namespace: string, pod: string, exitCode: number): Promise<void> {
    this.logs.end(namespace, pod);
    const now = new Date();
    await this.setStatus(namespace, pod, exitCode === 0 ? 'Succeeded' : 'Failed', {
      terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now },
    });
  }

  /** Plays the process of every exec from now on (kubelet-exec.ts). */
  onExec(handler: ExecHandler): void {
    this.execHandler = handler;
  }

  /** How many log follows are open on this kubelet right now. */
  openFollows(): number {
    return this.logs.followers();
  }

  private async setStatus(namespace: string, pod: string, phase: string, state: V1ContainerState): Promise<void> {
    const running = state.running !== undefined;
    const status: V1Pod['status'] = {
      phase,
      startTime: new Date(),
      containerStatuses: [{ name: this.container, image: 'test', imageID: 'test', ready: running, restartCount: 0, started: running, state }],
    };
    await this.plane.core.patchNamespacedPodStatus({ namespace, name: pod, body: { status } }, MERGE_PATCH);
  }

  /** GET /containerLogs/<namespace>/<pod>/<container>?follow=&tailLines=, as the kubelet serves it. */
  private serve(url: string, res: ServerResponse): void {
    const parsed = new URL(url, 'https://kubelet');
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(parsed.pathname);
    if (match === null || match[3] !== this.container || !this.logs.has(match[1], match[2])) {
      res.writeHead(404).end('not found');
      return;
    }
    this.logs.serve(match[1], match[2], { follow: parsed.searchParams.get('follow') === 'true', tailLines: Number(parsed.searchParams.get('tailLines') ?? 0) }, res);
  }
}
