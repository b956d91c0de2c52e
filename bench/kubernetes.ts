/**
 * The Kubernetes backend's launch against a real kube-apiserver (v1.20.2, the tests' control
 * plane: scripts/kube-control-plane.sh), as deploy/'s job-launcher with deploy/'s role: the call
 * until the Job exists (Secret, Job, then the owner patch), next to a bare client-node create of
 * one Secret plus one Job with the same values on the same apiserver in the same run.
 */
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { AttemptSpec } from '../services/job-launcher/backend.js';
import { createKubernetesBackend } from '../services/job-launcher/backends/kubernetes.js';
import { controlPlane, dropNamespace, launcherNamespace } from '../test/support/kube-control-plane.js';
import type { BenchConfig } from './config.js';
import { latencies, median, percentile } from './measure.js';
import { atMost, judge, REPORTED, type Figure, type Target } from './report.js';

const ENGINE = 'kubernetes-1.20';

function attempt(i: number, secrets: number): AttemptSpec {
  return {
    org: 'bench',
    jobId: `j_bench${i}`,
    attempt: 1,
    jobName: 'bench',
    image: 'busybox:1.36',
    command: 'true',
    env: [],
    secretEnv: Array.from({ length: secrets }, (_, k) => ({ name: `SECRET_${k}`, value: Buffer.from(`value-${i}-${k}-0123456789abcdef`), secretName: `s${k}`, version: 1 })),
  };
}

export async function benchKubernetesLaunch(cfg: BenchConfig, log: (line: string) => void): Promise<Figure[]> {
  log('kubernetes: starting the control plane (built once per machine; minutes the first time)');
  const plane = await controlPlane();
  const namespace = await launcherNamespace(plane, 'bench');
  const backend = createKubernetesBackend({ kubeConfig: plane.launcher, namespace: () => namespace });
  const core = plane.launcher.makeApiClient(CoreV1Api);
  const batch = plane.launcher.makeApiClient(BatchV1Api);
  const bare = async (i: number) => {
    const spec = attempt(i, cfg.secretsPerJob);
    const name = `bare-${i}`;
    const data = Object.fromEntries(spec.secretEnv.map((s) => [s.name, Buffer.from(s.value).toString('base64')]));
    await core.createNamespacedSecret({ namespace, body: { metadata: { name }, type: 'Opaque', immutable: true, data } });
    await batch.createNamespacedJob({
      namespace,
      body: {
        metadata: { name },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'job', image: spec.image, command: ['/bin/sh', '-c', spec.command], env: spec.secretEnv.map((s) => ({ name: s.name, valueFrom: { secretKeyRef: { name, key: s.name } } })) }],
            },
          },
        },
      },
    });
  };
  try {
    const rounds: { own: number[]; bare: number[] }[] = [];
    let offset = 0;
    for (let r = 0; r < cfg.runs; r++) {
      log(`kubernetes: round ${r + 1} of ${cfg.runs}, ${cfg.launches} launches and ${cfg.launches} bare creates`);
      const bareLat = await latencies(cfg.launches, (i) => bare(offset + i));
      const own = await latencies(cfg.launches, (i) => backend.launch(attempt(offset + i, cfg.secretsPerJob)));
      rounds.push({ own, bare: bareLat });
      offset += cfg.launches;
    }
    const name = `job launch with ${cfg.secretsPerJob} secrets, Kubernetes backend on a real apiserver (call until the Job exists and owns its Secret)`;
    return [50, 99].map((p) => {
      const target: Target = p === 50 ? atMost(1.5) : REPORTED;
      const perRound = rounds.map((x) => ({ value: percentile(x.own, p), baseline: percentile(x.bare, p) }));
      const ratio = median(perRound.map((x) => x.value / x.baseline));
      return {
        figure: `${name}, p${p}`,
        engine: ENGINE,
        value: median(perRound.map((x) => x.value)),
        unit: 'ms',
        baseline: median(perRound.map((x) => x.baseline)),
        baselineUnit: `ms bare client-node create of a Secret and a Job, p${p}`,
        ratio,
        target,
        pass: judge(ratio, target),
        rounds: rounds.length,
        notes: `${cfg.launches} launches per round, each with ${cfg.secretsPerJob} secrets; the launch also merge-patches the owner reference onto the Secret, the bare create does not`,
      };
    });
  } finally {
    await backend.close();
    await dropNamespace(plane, namespace);
  }
}
