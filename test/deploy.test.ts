/**
 * deploy/: every kustomization renders with `kubectl kustomize`, every object it produces
 * validates against the Kubernetes schemas (kubernetes-models), and the rendered installation
 * keeps the rules deploy/README.md promises: hardened pods, two or more replicas with a PDB,
 * job-launcher's RBAC confined to its job namespaces, NetworkPolicies that deny by default yet
 * allow every call the services make, an Envoy route for every gRPC service in proto/. Every
 * object is also submitted with a server-side dry run to a real kube-apiserver (the last block).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { ApiException, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { NetworkPolicy, type INetworkPolicyPeer, type INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, RoleBinding, type IClusterRole, type IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IContainer, IPodSpec, IService } from 'kubernetes-models/v1';
import {
  containerPort,
  envOf,
  kustomizations,
  kustomizeMajorVersion,
  named,
  ofKind,
  podLabels,
  portOfAddress,
  protoServices,
  render,
  selects,
  type DeploymentObject,
  type KubeObject,
} from './support/manifests.js';
import { bareNamespace, CONTROL_PLANE_TIMEOUT_MS, controlPlane, type ControlPlane } from './support/kube-control-plane.js';

/** The kinds deploy/ may produce, each with the model that validates it. Anything else fails. */
const MODELS: Record<string, { validate(data: unknown): void }> = {
  'v1/Namespace': { validate: (d) => new Namespace(d as never).validate() },
  'v1/ServiceAccount': { validate: (d) => new ServiceAccount(d as never).validate() },
  'v1/ConfigMap': { validate: (d) => new ConfigMap(d as never).validate() },
  'v1/Service': { validate: (d) => new Service(d as never).validate() },
  'apps/v1/Deployment': { validate: (d) => new Deployment(d as never).validate() },
  'policy/v1/PodDisruptionBudget': { validate: (d) => new PodDisruptionBudget(d as never).validate() },
  'networking.k8s.io/v1/NetworkPolicy': { validate: (d) => new NetworkPolicy(d as never).validate() },
  'rbac.authorization.k8s.io/v1/ClusterRole': { validate: (d) => new ClusterRole(d as never).validate() },
  'rbac.authorization.k8s.io/v1/RoleBinding': { validate: (d) => new RoleBinding(d as never).validate() },
};

/** The three services: every one is a Deployment of this component with its own Service. */
const SERVICE_COMPONENT = 'grpc-service';
const JOB_LAUNCHER = 'job-launcher';
const KEY_MANAGEMENT = 'key-management';
const JOB_LAUNCHER_ROLE = 'vessl-job-launcher';

/** Exactly what job-launcher's Kubernetes backend calls (services/job-launcher/backends). */
const JOB_LAUNCHER_MAY = new Map<string, string[]>([
  ['/secrets', ['create', 'delete', 'get', 'patch']],
  ['batch/jobs', ['create', 'delete', 'get', 'patch']],
  ['/pods', ['create', 'delete', 'get', 'list']],
  ['/pods/log', ['get']],
  // Workspaces: exec into a run's pod (get for a WebSocket before Kubernetes 1.30, create otherwise).
  ['/pods/exec', ['create', 'get']],
  // Workspaces: the ConfigMap that owns a workspace's runs.
  ['/configmaps', ['create', 'delete', 'get']],
]);

/** One row per hardening rule: what every container must have (its own or its pod's setting). */
const HARDENING: [rule: string, holds: (c: IContainer, pod: IPodSpec) => boolean][] = [
  ['runs as non-root', (c, pod) => (c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) === true],
  ['runs as a numeric non-zero user', (c, pod) => ((c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser) ?? 0) > 0],
  ['has a read-only root filesystem', (c) => c.securityContext?.readOnlyRootFilesystem === true],
  ['cannot escalate privileges', (c) => c.securityContext?.allowPrivilegeEscalation === false],
  ['is not privileged', (c) => c.securityContext?.privileged !== true],
  ['drops ALL capabilities and adds none', (c) => (c.securityContext?.capabilities?.drop ?? []).includes('ALL') && !c.securityContext?.capabilities?.add?.length],
  ['uses the RuntimeDefault seccomp profile', (c, pod) => (c.securityContext?.seccompProfile ?? pod.securityContext?.seccompProfile)?.type === 'RuntimeDefault'],
  ['sets a memory limit and requests', (c) => Boolean(c.resources?.limits?.memory && c.resources.requests?.cpu && c.resources.requests.memory)],
  ['exposes a metrics port', (c) => (c.ports ?? []).some((p) => p.name === 'metrics')],
];

interface EnvoyRoute {
  match: { prefix?: string; path?: string };
  route?: { cluster: string };
}
interface EnvoyCluster {
  name: string;
  load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] };
  transport_socket?: { typed_config: { sni?: string; common_tls_context?: { validation_context?: { match_typed_subject_alt_names?: { matcher: { exact: string } }[] } } } };
  health_checks?: { grpc_health_check?: { service_name?: string } }[];
}
interface EnvoyConfig {
  static_resources: {
    listeners: { name: string; filter_chains: { transport_socket?: unknown; filters: { typed_config: { route_config?: { virtual_hosts: { routes: EnvoyRoute[] }[] } } }[] }[] }[];
    clusters: EnvoyCluster[];
  };
}

function deploymentsOf(objects: KubeObject[]): DeploymentObject[] {
  return ofKind<DeploymentObject>(objects, 'Deployment');
}

function serviceDeployments(objects: KubeObject[]): DeploymentObject[] {
  return deploymentsOf(objects).filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === SERVICE_COMPONENT);
}

function mainContainer(deployment: DeploymentObject): IContainer {
  return deployment.spec.template.spec.containers[0];
}

function envoyConfig(objects: KubeObject[]): EnvoyConfig {
  const router = named(deploymentsOf(objects), 'router');
  const volume = router.spec.template.spec.volumes?.find((v) => v.configMap);
  const configMap = named(ofKind(objects, 'ConfigMap'), volume?.configMap?.name ?? '') as KubeObject & { data: Record<string, string> };
  return parseYaml(configMap.data['envoy.yaml']) as EnvoyConfig;
}

/** The routes of the TLS listener the CLI talks to. */
function grpcRoutes(config: EnvoyConfig): EnvoyRoute[] {
  const listener = config.static_resources.listeners.find((l) => l.filter_chains.some((c) => c.transport_socket));
  expect(listener, 'Envoy has a TLS listener').to.exist;
  return listener!.filter_chains.flatMap((c) => c.filters.flatMap((f) => f.typed_config.route_config?.virtual_hosts.flatMap((h) => h.routes) ?? []));
}

/** The ready pods behind a Service name and port, as a client dialling NAME:PORT reaches them. */
function backendOf(objects: KubeObject[], host: string, port: number): { deployment: DeploymentObject; podPort: number } {
  const service = named(ofKind(objects, 'Service'), host) as KubeObject & IService;
  const servicePort = service.spec?.ports?.find((p) => p.port === port);
  expect(servicePort, `Service ${host} has port ${port}`).to.exist;
  const deployment = deploymentsOf(objects).find((d) => selects(service.spec?.selector, podLabels(d)));
  expect(deployment, `Service ${host} selects a Deployment`).to.exist;
  const podPort = containerPort(deployment!.spec.template.spec, servicePort!.targetPort ?? port);
  expect(podPort, `Service ${host} port ${port} targets a container port`).to.be.a('number');
  return { deployment: deployment!, podPort: podPort! };
}

type NetworkPolicyObject = KubeObject & NetworkPolicy;

function policiesFor(objects: KubeObject[], pod: DeploymentObject, type: 'Ingress' | 'Egress'): NetworkPolicyObject[] {
  return ofKind<NetworkPolicyObject>(objects, 'NetworkPolicy').filter(
    (p) => (p.spec?.policyTypes ?? ['Ingress']).includes(type) && selects(p.spec?.podSelector, podLabels(pod)),
  );
}

/** Whether a rule's peers include `other` (a pod in the same namespace) and its ports include `port`. */
function ruleAllows(peers: INetworkPolicyPeer[] | undefined, ports: INetworkPolicyPort[] | undefined, other: DeploymentObject, port: number, portOwner: DeploymentObject): boolean {
  const peerOk = peers === undefined || peers.length === 0 || peers.some((peer) => !peer.namespaceSelector && !peer.ipBlock && selects(peer.podSelector, podLabels(other)));
  const portOk =
    ports === undefined || ports.length === 0 || ports.some((p) => p.port === undefined || containerPort(portOwner.spec.template.spec, p.port) === port || p.port === port);
  return peerOk && portOk;
}

function allowsCall(objects: KubeObject[], from: DeploymentObject, to: DeploymentObject, port: number): { egress: boolean; ingress: boolean } {
  return {
    egress: policiesFor(objects, from, 'Egress').some((p) => (p.spec?.egress ?? []).some((r) => ruleAllows(r.to, r.ports, to, port, to))),
    ingress: policiesFor(objects, to, 'Ingress').some((p) => (p.spec?.ingress ?? []).some((r) => ruleAllows(r.from, r.ports, from, port, to))),
  };
}

/** The peer endpoints a service's main.ts reads (its `*-endpoint` flags), as VESSL_* env names. */
function peerEndpointSettings(service: string): string[] {
  const main = readFileSync(path.resolve('services', service, 'main.ts'), 'utf8');
  const flags = /flags:\s*\[([^\]]*)\]/.exec(main)?.[1] ?? '';
  return [...flags.matchAll(/'([a-z-]+-endpoint)'/g)].map((m) => `VESSL_${m[1].toUpperCase().replace(/-/g, '_')}`);
}

describe('deploy/ (kustomize)', function () {
  this.timeout(60_000);

  before(function () {
    expect(kustomizeMajorVersion(), 'kubectl with kustomize v5 or later (kubectl 1.27+)').to.be.at.least(5);
  });

  for (const tree of kustomizations()) {
    describe(tree, function () {
      let objects: KubeObject[];
      before(function () {
        objects = render(tree);
      });

      it('renders, and every object validates against its Kubernetes schema', function () {
        expect(objects.length).to.be.greaterThan(10);
        for (const object of objects) {
          const model = MODELS[`${object.apiVersion}/${object.kind}`];
          expect(model, `a known kind: ${object.apiVersion} ${object.kind} ${object.metadata.name}`).to.exist;
          expect(() => model.validate(object), `${object.kind}/${object.metadata.name}`).not.to.throw();
        }
      });

      it('hardens every container of every Deployment', function () {
        for (const deployment of deploymentsOf(objects)) {
          const pod = deployment.spec.template.spec;
          for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
            for (const [rule, holds] of HARDENING) {
              expect(holds(container, pod), `${deployment.metadata.name}/${container.name} ${rule}`).to.equal(true);
            }
          }
        }
      });

      it('runs at least two replicas of every Deployment (exactly two in the base)', function () {
        expect(serviceDeployments(objects).map((d) => d.metadata.name).sort()).to.deep.equal([JOB_LAUNCHER, KEY_MANAGEMENT, 'secret-store']);
        for (const deployment of deploymentsOf(objects)) {
          const replicas = deployment.spec.replicas ?? 1;
          expect(replicas, deployment.metadata.name).to.be.at.least(2);
          if (tree === 'base') expect(replicas, deployment.metadata.name).to.equal(2);
        }
      });

      it('spreads the replicas of every Deployment across nodes', function () {
        for (const deployment of deploymentsOf(objects)) {
          const spread = deployment.spec.template.spec.topologySpreadConstraints ?? [];
          const own = (c: (typeof spread)[number]) =>
            c.matchLabelKeys?.includes('app.kubernetes.io/name') || (c.labelSelector !== undefined && !c.labelSelector.matchExpressions?.length && selects(c.labelSelector, podLabels(deployment)));
          expect(spread.some((c) => c.topologyKey === 'kubernetes.io/hostname' && own(c)), deployment.metadata.name).to.equal(true);
        }
      });

      it('gives every Deployment one PodDisruptionBudget that allows an eviction and keeps a pod up', function () {
        const budgets = ofKind<KubeObject & IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
        for (const deployment of deploymentsOf(objects)) {
          const mine = budgets.filter((b) => selects(b.spec?.selector, podLabels(deployment)));
          expect(mine, `PDBs selecting ${deployment.metadata.name}`).to.have.length(1);
          const { minAvailable, maxUnavailable } = mine[0].spec ?? {};
          const replicas = deployment.spec.replicas ?? 1;
          const down = maxUnavailable !== undefined ? Number(maxUnavailable) : replicas - Number(minAvailable);
          expect(down, `${deployment.metadata.name}: pods its PDB lets go at once`).to.be.within(1, replicas - 1);
        }
      });

      it('points every Service at a Deployment and at container ports that exist', function () {
        for (const service of ofKind<KubeObject & IService>(objects, 'Service')) {
          for (const port of service.spec?.ports ?? []) backendOf(objects, service.metadata.name, port.port);
        }
      });

      it('probes every service over plaintext gRPC health on its health port, never on the TLS port', function () {
        for (const deployment of serviceDeployments(objects)) {
          const container = mainContainer(deployment);
          const env = envOf(container, objects);
          const healthPort = portOfAddress(env.get('VESSL_HEALTH_LISTEN') ?? '');
          expect(healthPort, `${deployment.metadata.name}: VESSL_HEALTH_LISTEN`).to.be.greaterThan(0);
          expect(healthPort).not.to.equal(portOfAddress(env.get('VESSL_LISTEN') ?? ''));
          for (const probe of [container.readinessProbe, container.startupProbe, container.livenessProbe].filter((p) => p !== undefined)) {
            expect(probe.grpc?.port, `${deployment.metadata.name}: a grpc probe on the health port`).to.equal(healthPort);
          }
          expect(container.readinessProbe?.grpc).to.exist;
          expect(containerPort(deployment.spec.template.spec, 'health')).to.equal(healthPort);
          expect(containerPort(deployment.spec.template.spec, 'metrics')).to.equal(portOfAddress(env.get('VESSL_METRICS_LISTEN') ?? ''));
        }
      });

      it('serves TLS on every service and gives each pod its database URL from a Secret', function () {
        for (const deployment of serviceDeployments(objects)) {
          const env = envOf(mainContainer(deployment), objects);
          expect(env.get('VESSL_LISTEN'), deployment.metadata.name).to.match(/^0\.0\.0\.0:\d+$/);
          for (const file of ['VESSL_TLS_CERT_FILE', 'VESSL_TLS_KEY_FILE', 'VESSL_TLS_CA_FILE', 'VESSL_SERVICE_TOKEN_FILE']) {
            expect(env.get(file), `${deployment.metadata.name} ${file}`).to.match(/^\/etc\/vessl\//);
          }
          expect(env.get('VESSL_DATABASE_URL'), deployment.metadata.name).to.match(/^secret:/);
        }
      });

      it('mounts the master keyring read-only from a Secret into key-management only', function () {
        for (const deployment of serviceDeployments(objects)) {
          const pod = deployment.spec.template.spec;
          const container = mainContainer(deployment);
          const file = envOf(container, objects).get('VESSL_MASTER_KEYRING_FILE');
          if (deployment.metadata.name !== KEY_MANAGEMENT) {
            expect(file, deployment.metadata.name).to.equal(undefined);
            continue;
          }
          const mount = container.volumeMounts?.find((m) => file?.startsWith(`${m.mountPath}/`));
          expect(mount, 'a volume mount holding VESSL_MASTER_KEYRING_FILE').to.exist;
          expect(mount!.readOnly).to.equal(true);
          const volume = pod.volumes?.find((v) => v.name === mount!.name);
          expect(volume?.secret?.secretName, 'the keyring volume is a Secret').to.be.a('string');
          expect(volume?.secret?.items?.map((i) => `${mount!.mountPath}/${i.path}`)).to.include(file);
        }
      });

      it('lets only job-launcher reach the Kubernetes API, through RoleBindings in its job namespaces', function () {
        expect(ofKind(objects, 'ClusterRoleBinding'), 'nothing is granted cluster-wide').to.be.empty;
        for (const deployment of deploymentsOf(objects)) {
          const pod = deployment.spec.template.spec;
          const account = named(ofKind(objects, 'ServiceAccount'), pod.serviceAccountName ?? '') as KubeObject & { automountServiceAccountToken?: boolean };
          const mounts = pod.automountServiceAccountToken ?? account.automountServiceAccountToken ?? true;
          expect(mounts, `${deployment.metadata.name} mounts an API token`).to.equal(deployment.metadata.name === JOB_LAUNCHER);
        }
        const jobLauncher = named(deploymentsOf(objects), JOB_LAUNCHER);
        const template = envOf(mainContainer(jobLauncher), objects).get('VESSL_JOB_NAMESPACE') ?? 'vessl-{org}';
        const jobNamespace = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace('{org}', '[a-z0-9-]+')}$`);
        const bindings = ofKind<KubeObject & IRoleBinding>(objects, 'RoleBinding');
        for (const binding of bindings) {
          expect(binding.metadata.namespace, `RoleBinding ${binding.metadata.name}`).to.match(jobNamespace);
          expect(binding.metadata.namespace).not.to.equal(jobLauncher.metadata.namespace);
          expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: jobLauncher.spec.template.spec.serviceAccountName, namespace: jobLauncher.metadata.namespace }]);
          expect(binding.roleRef).to.deep.equal({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: JOB_LAUNCHER_ROLE });
        }
        // The role is granted per namespace only, so its rules are all the API access there is.
        const roles = [...ofKind<KubeObject & IClusterRole>(objects, 'ClusterRole'), ...ofKind<KubeObject & IClusterRole>(objects, 'Role')];
        expect(roles.map((r) => r.metadata.name)).to.deep.equal([JOB_LAUNCHER_ROLE]);
        const granted = new Map<string, Set<string>>();
        for (const rule of roles[0].rules ?? []) {
          expect(rule.nonResourceURLs ?? [], 'no non-resource URLs').to.be.empty;
          expect(rule.resourceNames ?? []).to.be.empty;
          for (const group of rule.apiGroups ?? []) {
            for (const resource of rule.resources ?? []) {
              const key = `${group}/${resource}`;
              expect(JOB_LAUNCHER_MAY.get(key), `job-launcher may touch ${key}`).to.exist;
              granted.set(key, new Set([...(granted.get(key) ?? []), ...rule.verbs]));
            }
          }
        }
        // Exactly: more would widen its reach, less would fail a call (a log read needs get on secrets).
        expect(new Map([...granted].map(([key, verbs]) => [key, [...verbs].sort()]))).to.deep.equal(JOB_LAUNCHER_MAY);
        if (tree !== 'base') expect(bindings.length, 'a RoleBinding in at least one job namespace').to.be.at.least(1);
      });

      it('denies all traffic by default and selects every pod with a policy', function () {
        const policies = ofKind<NetworkPolicyObject>(objects, 'NetworkPolicy');
        const defaultDeny = policies.find(
          (p) => Object.keys(p.spec?.podSelector.matchLabels ?? {}).length === 0 && !p.spec?.ingress && !p.spec?.egress && p.spec?.policyTypes?.length === 2,
        );
        expect(defaultDeny, 'a NetworkPolicy selecting every pod that allows nothing, both ways').to.exist;
        for (const deployment of deploymentsOf(objects)) {
          const own = policies.filter((p) => p !== defaultDeny && Object.keys(p.spec?.podSelector.matchLabels ?? {}).length > 0 && selects(p.spec?.podSelector, podLabels(deployment)));
          expect(own, `a policy of its own for ${deployment.metadata.name}`).not.to.be.empty;
        }
      });

      it('lets the monitoring namespace, and only it, scrape every metrics port', function () {
        for (const deployment of deploymentsOf(objects)) {
          const metricsPort = containerPort(deployment.spec.template.spec, 'metrics');
          const rules = policiesFor(objects, deployment, 'Ingress').flatMap((p) => p.spec?.ingress ?? []);
          const scrapable = rules.some(
            (r) => r.from?.some((peer) => peer.namespaceSelector?.matchLabels?.['vessl.ai/monitoring'] === 'true') && r.ports?.some((p) => containerPort(deployment.spec.template.spec, p.port ?? '') === metricsPort),
          );
          expect(scrapable, `${deployment.metadata.name}: metrics port open to monitoring`).to.equal(true);
          const openToAll = rules.some((r) => !r.from?.length && (!r.ports?.length || r.ports.some((p) => containerPort(deployment.spec.template.spec, p.port ?? '') === metricsPort)));
          expect(openToAll, `${deployment.metadata.name}: metrics port open to everyone`).to.equal(false);
        }
      });

      it('allows every call the services make to each other, and from the router to each service', function () {
        const calls: { from: DeploymentObject; host: string; port: number }[] = [];
        for (const deployment of serviceDeployments(objects)) {
          const env = envOf(mainContainer(deployment), objects);
          for (const setting of peerEndpointSettings(deployment.metadata.name)) {
            const address = env.get(setting);
            expect(address, `${deployment.metadata.name} ${setting}`).to.match(/^[a-z0-9-]+:\d+$/);
            calls.push({ from: deployment, host: address!.split(':')[0], port: portOfAddress(address!) });
          }
        }
        const router = named(deploymentsOf(objects), 'router');
        for (const cluster of envoyConfig(objects).static_resources.clusters.filter((c) => c.transport_socket)) {
          const { address, port_value } = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
          calls.push({ from: router, host: address, port: port_value });
        }
        expect(calls.length).to.be.at.least(7);
        for (const call of calls) {
          const { deployment: to, podPort } = backendOf(objects, call.host, call.port);
          expect(allowsCall(objects, call.from, to, podPort), `${call.from.metadata.name} -> ${call.host}:${call.port}`).to.deep.equal({ egress: true, ingress: true });
        }
        // Nothing but the router calls job-launcher: the other services must not reach it.
        const jobLauncher = named(deploymentsOf(objects), JOB_LAUNCHER);
        for (const from of serviceDeployments(objects).filter((d) => d !== jobLauncher)) {
          expect(allowsCall(objects, from, jobLauncher, 8443).ingress, `${from.metadata.name} -> job-launcher`).to.equal(false);
        }
      });

      it('routes every gRPC service in proto/ to an Envoy cluster that reaches the service over verified TLS', function () {
        const config = envoyConfig(objects);
        const routes = grpcRoutes(config);
        const clusters = new Map(config.static_resources.clusters.map((c) => [c.name, c]));
        const paths = [...protoServices(), 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
        for (const service of paths) {
          const route = routes.find((r) => r.match.prefix !== undefined && `/${service}/Method`.startsWith(r.match.prefix));
          expect(route?.route?.cluster, `a route for /${service}/`).to.be.a('string');
          const cluster = clusters.get(route!.route!.cluster);
          expect(cluster, `cluster ${route!.route!.cluster}`).to.exist;
          const tls = cluster!.transport_socket?.typed_config;
          const host = cluster!.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address;
          expect(tls?.sni, `${cluster!.name} SNI`).to.equal(host);
          expect(tls?.common_tls_context?.validation_context?.match_typed_subject_alt_names?.map((m) => m.matcher.exact)).to.deep.equal([host]);
          if (!service.startsWith('grpc.')) {
            // One server may serve several services (job-launcher: jobs and workspaces); its cluster checks one of them.
            const sameCluster = paths.filter((other) => routes.find((r) => r.match.prefix !== undefined && `/${other}/Method`.startsWith(r.match.prefix))?.route?.cluster === cluster!.name);
            expect(sameCluster, `${cluster!.name} health-checks a service it routes to`).to.include(cluster!.health_checks?.[0]?.grpc_health_check?.service_name);
          }
        }
      });

      if (tree.includes('production')) {
        it('pins every image to a version', function () {
          for (const deployment of deploymentsOf(objects)) {
            for (const container of deployment.spec.template.spec.containers) expect(container.image, container.name).to.match(/:[^:/]+$/).and.not.match(/:latest$/);
          }
        });
      }
    });
  }

  it('lists every overlay under deploy/overlays', function () {
    expect(kustomizations()).to.include.members(['base', 'overlays/dev', 'overlays/production']);
  });
});

/**
 * The same rendered objects, each applied with a server-side dry run to a real kube-apiserver
 * (v1.20.2, scripts/kube-control-plane.sh): its own validation, defaulting and admission, beyond
 * what the schemas check. Namespaces are dry-run first, then made for real so that the objects
 * inside them can be dry-run too; a base object without a namespace goes to a scratch one.
 *
 * Version skew: deploy/ needs Kubernetes 1.24+ (gRPC probes; policy/v1 PDBs are 1.21+), and the
 * only server here is 1.20.2, so what 1.20 lacks is adapted before submitting (asServedBy120);
 * the test below shows that 1.20 refuses the gRPC probes as they are, and nothing else.
 */
describe('deploy/ applied with server-side dry run to a real API server (v1.20.2)', function () {
  let plane: ControlPlane;
  let objectsApi: KubernetesObjectApi;
  before(async function () {
    this.timeout(CONTROL_PLANE_TIMEOUT_MS);
    plane = await controlPlane();
    objectsApi = KubernetesObjectApi.makeApiClient(plane.admin);
  });

  /**
   * A dry-run create; for an object that exists already (the launcher's ClusterRole, made for
   * real by the backend's tests in the same run), a dry-run replace, which validates it whole.
   * (Not server-side apply: 1.20's refuses a port list without `protocol`, which the API server
   * itself defaults to TCP, with a 500.)
   */
  async function submit(object: KubernetesObject, dryRun: boolean): Promise<void> {
    const mode = dryRun ? 'All' : undefined;
    try {
      await objectsApi.create(object, undefined, mode);
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
      await objectsApi.replace(object, undefined, mode);
    }
  }

  it('refuses on 1.20 the gRPC probes the Deployments use, which is why deploy/ needs 1.24+', async () => {
    const scratch = await bareNamespace(plane, 'deploy');
    try {
      const [deployment] = deploymentsOf(render('base'));
      const refused = await refusal(submit({ ...deployment, metadata: { ...deployment.metadata, namespace: scratch } } as KubernetesObject, true));
      expect(refused).to.match(/^422 /).and.to.include('Probe: Required value: must specify a handler type');
    } finally {
      await plane.core.deleteNamespace({ name: scratch }).catch(() => undefined);
    }
  });

  for (const tree of kustomizations()) {
    it(`accepts every object of ${tree}`, async function () {
      const objects = render(tree);
      const scratch = await bareNamespace(plane, 'deploy');
      const made: string[] = [];
      try {
        const namespaces = ofKind(objects, 'Namespace');
        for (const namespace of namespaces) {
          const refused = await refusal(submit(namespace, true));
          if (refused !== undefined) expect.fail(`dry run of Namespace/${namespace.metadata.name}: ${refused}`);
        }
        for (const namespace of namespaces) {
          await submit(namespace, false);
          made.push(namespace.metadata.name);
        }
        let applied = 0;
        for (const object of objects.filter((o) => o.kind !== 'Namespace')) {
          const submitted = asServedBy120(object, scratch);
          const what = `${object.apiVersion} ${object.kind}/${object.metadata.name}`;
          const refused = await refusal(submit(submitted, true));
          if (refused !== undefined) expect.fail(`${what}: ${refused}`);
          applied++;
        }
        expect(applied).to.be.greaterThan(10);
      } finally {
        for (const name of [scratch, ...made]) await plane.core.deleteNamespace({ name }).catch(() => undefined);
      }
    });
  }
});

/**
 * The object as a 1.20 API server can take it, each change a feature 1.20 lacks: in the scratch
 * namespace if it names none; a policy/v1 PDB as policy/v1beta1 (same fields; v1 is 1.21+); a
 * gRPC probe as a TCP probe of the same port (gRPC probes are 1.24+: 1.20 drops the unknown
 * `grpc` field and then finds the probe without a handler, 422).
 */
function asServedBy120(object: KubeObject, scratch: string): KubernetesObject {
  const copy = structuredClone(object) as KubeObject & { spec?: { template?: { spec?: IPodSpec } } };
  const clusterScoped = ['ClusterRole', 'ClusterRoleBinding', 'Namespace'].includes(copy.kind);
  if (!clusterScoped) copy.metadata.namespace ??= scratch;
  if (copy.apiVersion === 'policy/v1' && copy.kind === 'PodDisruptionBudget') copy.apiVersion = 'policy/v1beta1';
  const pod = copy.spec?.template?.spec;
  for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
      if (probe?.grpc === undefined) continue;
      (probe as Record<string, unknown>).tcpSocket = { port: probe.grpc.port };
      delete probe.grpc;
    }
  }
  return copy as KubernetesObject;
}

/** The API server's answer to a refused apply (code, reason and message), or undefined when it was accepted. */
async function refusal(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    if (err instanceof ApiException) return `${err.code} ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}`;
    throw err;
  }
}
