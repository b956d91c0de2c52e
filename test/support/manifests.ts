/**
 * Renders the kustomize trees under deploy/ with `kubectl kustomize` and answers questions
 * about the objects they produce: which pods a selector picks, what env a container gets,
 * which ports a pod exposes. Only what the deploy tests need; anything unexpected throws.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { IContainer, IPodSpec, IPodTemplateSpec } from 'kubernetes-models/v1';
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';

export const DEPLOY_DIR = path.resolve('deploy');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** A Deployment with the fields the checks read (the schema validation covers the rest). */
export interface DeploymentObject extends KubeObject {
  spec: { replicas?: number; selector: ILabelSelector; template: IPodTemplateSpec & { spec: IPodSpec } };
}

/** Every kustomization under deploy/ that renders a whole installation (base and overlays). */
export function kustomizations(): string[] {
  const overlays = readdirSync(path.join(DEPLOY_DIR, 'overlays')).map((o) => path.join('overlays', o));
  return ['base', ...overlays.sort()];
}

export function render(kustomization: string): KubeObject[] {
  const text = execFileSync('kubectl', ['kustomize', path.join(DEPLOY_DIR, kustomization)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${kustomization} printed invalid YAML: ${doc.errors[0].message}`);
    return doc.toJS() as KubeObject;
  });
}

/** The installed kustomize's major version (the trees use v5 features). */
export function kustomizeMajorVersion(): number {
  const text = execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  const match = /Kustomize Version: v(\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

export function ofKind<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function named<T extends KubeObject>(objects: T[], name: string): T {
  const found = objects.find((o) => o.metadata.name === name);
  if (!found) throw new Error(`no object named ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** matchLabels only: the manifests use no matchExpressions, and a check must not guess. */
export function selects(selector: ILabelSelector | Record<string, string> | undefined, labels: Record<string, string> = {}): boolean {
  if (selector === undefined) return false;
  const plain = 'matchLabels' in selector || 'matchExpressions' in selector ? (selector as ILabelSelector) : { matchLabels: selector as Record<string, string> };
  if (plain.matchExpressions?.length) throw new Error('matchExpressions are not supported by these checks');
  return Object.entries(plain.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

export function podLabels(deployment: DeploymentObject): Record<string, string> {
  return deployment.spec.template.metadata?.labels ?? {};
}

/** A container's env as the kubelet builds it: envFrom ConfigMaps first, then env; secret refs as `secret:NAME/KEY`. */
export function envOf(container: IContainer, objects: KubeObject[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) throw new Error(`container ${container.name}: only envFrom configMapRef is expected`);
    const configMap = named(ofKind(objects, 'ConfigMap'), name) as KubeObject & { data?: Record<string, string> };
    for (const [k, v] of Object.entries(configMap.data ?? {})) env.set(k, v);
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    env.set(variable.name, ref ? `secret:${ref.name}/${ref.key}` : (variable.value ?? ''));
  }
  return env;
}

/** A port given by number or by name, as the pod's containers declare it. */
export function containerPort(pod: IPodSpec, port: number | string): number | undefined {
  for (const container of pod.containers) {
    for (const p of container.ports ?? []) {
      if (p.containerPort === port || p.name === port) return p.containerPort;
    }
  }
  return undefined;
}

export function portOfAddress(address: string): number {
  return Number(/:(\d+)$/.exec(address)?.[1]);
}

/** Fully-qualified gRPC service names declared in proto/ (e.g. vessl.secrets.v1.SecretService). */
export function protoServices(root = path.resolve('proto')): string[] {
  const services: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.proto')) {
        const text = readFileSync(file, 'utf8');
        const pkg = /^package\s+([\w.]+)\s*;/m.exec(text)?.[1];
        for (const match of text.matchAll(/^service\s+(\w+)\s*\{/gm)) services.push(`${pkg}.${match[1]}`);
      }
    }
  };
  walk(root);
  return services.sort();
}
