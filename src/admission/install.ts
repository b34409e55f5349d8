/**
 * What a cluster needs to run Gatehouse's admission webhook, as Kubernetes objects: the
 * namespace (Pod Security `restricted` enforced), a ServiceAccount, a Deployment and a
 * Service for `gatehouse admission serve`, the serving certificate in a Secret, and the
 * Validating/MutatingWebhookConfigurations whose caBundle trusts it.
 *
 * The certificate material comes in from the caller (the CLI issues it with Central's CA
 * functions), so this stays a pure function of its options. The webhook's own namespace
 * and kube-system are never sent to it: a webhook that admits its own pods cannot come
 * back after an outage under fail-closed, and kube-system must keep working whatever
 * Gatehouse does.
 */
import { stringify } from 'yaml';
import { UserError } from '../util/errors.js';

export interface InstallTls {
  /** PEM of the CA (or CAs) the API server trusts for the webhook: the caBundle. */
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface InstallOptions {
  namespace: string;
  /** Service name (default gatehouse-admission); ignored with `url`. */
  service?: string;
  /** The webhook runs elsewhere at this https URL: no Deployment, Service or ServiceAccount. */
  url?: string;
  /** failurePolicy Fail (deny when the webhook cannot answer) instead of Ignore. */
  failClosed?: boolean;
  /** How long the API server waits for an answer (1–30 s, default 5). */
  timeoutSeconds?: number;
  image?: string;
  replicas?: number;
  /** A trust policy (YAML, keys inline as PEM) the webhook enforces: put in a ConfigMap and passed as --trust-policy. */
  trustPolicyYaml?: string;
  tls: InstallTls;
}

export const DEFAULT_SERVICE = 'gatehouse-admission';
export const DEFAULT_TIMEOUT_SECONDS = 5;
export const DEFAULT_IMAGE = 'ghcr.io/gatehouse-dev/gatehouse:0.1.0';
export const WEBHOOK_PORT = 8443;
/** The API server calls /validate and /mutate, as `gatehouse admission serve` serves them. */
export const VALIDATE_PATH = '/validate';
export const MUTATE_PATH = '/mutate';
const TLS_DIR = '/etc/gatehouse/tls';
const TRUST_DIR = '/etc/gatehouse/trust';
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

type KubeObject = Record<string, unknown>;

/** Pods and every workload kind that carries a pod template, by API group. */
const WORKLOAD_RULES = [
  { apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'replicationcontrollers', 'podtemplates'] },
  { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'] },
];
const CONNECT_RULE = { apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec', 'pods/attach', 'pods/portforward'] };

/** The names the serving certificate must carry for a Service: what the API server dials. */
export function serviceDnsNames(namespace: string, service: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/** Checks the options; one-line UserErrors for bad input. */
export function checkInstallOptions(o: Omit<InstallOptions, 'tls'>): void {
  if (!NAME_RE.test(o.namespace) || o.namespace.length > 63) throw new UserError(`--namespace "${o.namespace}" is not a valid namespace name (lowercase letters, digits and '-', at most 63)`, 'usage');
  if (o.service !== undefined && o.url !== undefined) throw new UserError('give either --service or --url, not both', 'usage');
  if (o.service !== undefined && (!NAME_RE.test(o.service) || o.service.length > 63)) throw new UserError(`--service "${o.service}" is not a valid service name`, 'usage');
  if (o.url !== undefined) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new UserError(`--url "${o.url}" is not a URL`, 'usage');
    }
    // The API server only calls webhooks over https, and rejects user info, queries and fragments.
    if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) throw new UserError(`--url "${o.url}" must be https://HOST[:PORT][/PATH] with no user, query or fragment`, 'usage');
  }
  if (o.url !== undefined && o.trustPolicyYaml !== undefined) throw new UserError('--trust-policy configures the in-cluster Deployment; with --url, give it to the serve command you run', 'usage');
  const t = o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(t) || t < 1 || t > 30) throw new UserError(`--timeout-seconds must be an integer from 1 to 30 (the API server's limits), not ${String(o.timeoutSeconds)}`, 'usage');
  if (o.replicas !== undefined && (!Number.isInteger(o.replicas) || o.replicas < 1)) throw new UserError('--replicas must be a positive integer', 'usage');
}

/** The objects, in the order `kubectl apply` needs them (namespace first, webhooks last). */
export function installObjects(o: InstallOptions): KubeObject[] {
  checkInstallOptions(o);
  const ns = o.namespace;
  const service = o.service ?? DEFAULT_SERVICE;
  const labels = { 'app.kubernetes.io/name': 'gatehouse-admission', 'app.kubernetes.io/part-of': 'gatehouse' };
  const meta = (name: string) => ({ name, namespace: ns, labels });
  const secretName = `${service}-tls`;
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(secretName),
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(o.tls.certPem), 'tls.key': b64(o.tls.keyPem), 'ca.crt': b64(o.tls.caPem) },
    },
  ];
  if (o.url === undefined) objects.push(...workloadObjects(o, service, secretName, labels, meta));
  objects.push(...webhookConfigurations(o, service));
  return objects;
}

/** The objects as one multi-document YAML stream. */
export function installYaml(o: InstallOptions): string {
  return installObjects(o)
    .map((obj) => stringify(obj, { lineWidth: 0 }))
    .map((doc) => `---\n${doc}`)
    .join('');
}

function workloadObjects(o: InstallOptions, service: string, secretName: string, labels: Record<string, string>, meta: (name: string) => KubeObject): KubeObject[] {
  const selector = { 'app.kubernetes.io/name': labels['app.kubernetes.io/name']! };
  const replicas = o.replicas ?? 2;
  const timeoutMs = (o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  // The webhook answers within its budget, which must end before the API server gives up.
  const args = ['admission', 'serve', '--listen', `0.0.0.0:${WEBHOOK_PORT}`, '--tls-cert', `${TLS_DIR}/tls.crt`, '--tls-key', `${TLS_DIR}/tls.key`, '--budget', `${Math.min(2000, timeoutMs - 500)}ms`];
  if (o.failClosed) args.push('--fail-closed');
  const mounts: KubeObject[] = [
    { name: 'tls', mountPath: TLS_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const volumes: KubeObject[] = [
    { name: 'tls', secret: { secretName, defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  const trust: KubeObject[] = [];
  if (o.trustPolicyYaml !== undefined) {
    trust.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${service}-trust`), data: { 'policy.yaml': o.trustPolicyYaml } });
    args.push('--trust-policy', `${TRUST_DIR}/policy.yaml`);
    mounts.push({ name: 'trust', mountPath: TRUST_DIR, readOnly: true });
    volumes.push({ name: 'trust', configMap: { name: `${service}-trust` } });
  }
  return [
    ...trust,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(service), automountServiceAccountToken: false },
    // The namespace holds the webhook only: a quota and defaults keep anything else in it small.
    { apiVersion: 'v1', kind: 'ResourceQuota', metadata: meta(service), spec: { hard: { pods: String(replicas * 2 + 2), 'limits.cpu': `${replicas * 2 + 2}`, 'limits.memory': `${(replicas * 2 + 2) * 512}Mi` } } },
    { apiVersion: 'v1', kind: 'LimitRange', metadata: meta(service), spec: { limits: [{ type: 'Container', default: { cpu: '1', memory: '512Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }] } },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(service),
      // Only the webhook port is reachable (the API server's source addresses vary by cluster);
      // egress stays open, since image trust reads whichever registries the pods name.
      spec: { podSelector: { matchLabels: selector }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: WEBHOOK_PORT, protocol: 'TCP' }] }] },
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(service), spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: selector } } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(service),
      spec: { selector, ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(service),
      spec: {
        // Two replicas: under fail-closed, one pod's restart must not stop every admission.
        replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: service,
            automountServiceAccountToken: false,
            // Replicas on different nodes, so one node's loss leaves the webhook answering.
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } }] } },
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'webhook',
                image: o.image ?? DEFAULT_IMAGE,
                imagePullPolicy: 'IfNotPresent',
                args,
                ports: [{ name: 'https', containerPort: WEBHOOK_PORT, protocol: 'TCP' }],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  privileged: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
                readinessProbe: { tcpSocket: { port: 'https' }, periodSeconds: 5 },
                livenessProbe: { tcpSocket: { port: 'https' }, periodSeconds: 10, failureThreshold: 6 },
                volumeMounts: mounts,
              },
            ],
            volumes,
          },
        },
      },
    },
  ];
}

function webhookConfigurations(o: InstallOptions, service: string): KubeObject[] {
  const clientConfig = (path: string) =>
    o.url !== undefined
      ? { url: `${o.url.replace(/\/+$/, '')}${path}`, caBundle: b64(o.tls.caPem) }
      : { service: { namespace: o.namespace, name: service, path, port: 443 }, caBundle: b64(o.tls.caPem) };
  const common = {
    failurePolicy: o.failClosed ? 'Fail' : 'Ignore',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: o.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    matchPolicy: 'Equivalent',
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([o.namespace, 'kube-system'])] }] },
  };
  const name = `${service}.${o.namespace}`;
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name, labels: { 'app.kubernetes.io/name': 'gatehouse-admission', 'app.kubernetes.io/part-of': 'gatehouse' } },
      webhooks: [
        { name: 'workloads.validate.gatehouse.dev', clientConfig: clientConfig(VALIDATE_PATH), rules: WORKLOAD_RULES.map((r) => ({ ...r, operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' })), ...common },
        { name: 'connect.validate.gatehouse.dev', clientConfig: clientConfig(VALIDATE_PATH), rules: [{ ...CONNECT_RULE, operations: ['CONNECT'], scope: 'Namespaced' }], ...common },
      ],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name, labels: { 'app.kubernetes.io/name': 'gatehouse-admission', 'app.kubernetes.io/part-of': 'gatehouse' } },
      webhooks: [
        {
          name: 'images.mutate.gatehouse.dev',
          clientConfig: clientConfig(MUTATE_PATH),
          rules: WORKLOAD_RULES.map((r) => ({ ...r, operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' })),
          // Pinning a tag to a digest is idempotent; a later mutation adding a container is pinned on reinvocation.
          reinvocationPolicy: 'IfNeeded',
          ...common,
        },
      ],
    },
  ];
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
