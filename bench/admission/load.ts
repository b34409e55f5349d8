/**
 * The load of `bench:admission`: realistic pod creates as AdmissionReview v1 bodies (what
 * the API server sends for a Deployment's pod: two containers, probes, resources, a
 * restricted security context, a projected token volume, owner references), sent open-loop
 * at a fixed rate over keep-alive HTTPS, each answer checked.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface Review {
  body: string;
  uid: string;
}

export function podReview(images: { app: string; sidecar: string }, n: number, override: (pod: Record<string, any>) => void = () => {}): Review {
  const name = `web-7d9c8b6f5-${n.toString(36).padStart(5, '0')}`;
  const container = (cname: string, image: string, port: number) => ({
    name: cname,
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    env: [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'web-db', key: 'password' } } },
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: '/live', port }, periodSeconds: 10 },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
    volumeMounts: [
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  });
  const pod: Record<string, any> = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: 'web-7d9c8b6f5-',
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': '7d9c8b6f5', 'app.kubernetes.io/part-of': 'shop', team: 'payments' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c8b6f5', uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      serviceAccountName: 'web',
      securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [container('web', images.app, 8080), container('metrics', images.sidecar, 9090)],
      volumes: [
        { name: 'tmp', emptyDir: {} },
        {
          name: 'kube-api-access',
          projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] },
        },
      ],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 30,
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
  };
  override(pod);
  const uid = randomUUID();
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: randomUUID(), groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
  return { body, uid };
}

export interface Answer {
  status: number;
  allowed?: boolean;
  uid?: string;
  message?: string;
}

export async function post(pool: Pool, path: string, body: string): Promise<Answer> {
  const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
  const text = await res.body.text();
  try {
    const doc = JSON.parse(text) as { response?: { allowed?: boolean; uid?: string; status?: { message?: string } } };
    return { status: res.statusCode, allowed: doc.response?.allowed, uid: doc.response?.uid, message: doc.response?.status?.message };
  } catch {
    return { status: res.statusCode, message: text.slice(0, 200) };
  }
}

export interface LoadResult {
  sent: number;
  errors: number;
  firstError?: string;
  latenciesMs: number[];
  achievedRps: number;
}

/**
 * Open loop: request i leaves at start + i/rate whatever the earlier ones are doing, so a
 * slow answer cannot hold back the load (no coordinated omission); latency is measured from
 * the scheduled time (or when it left, if that was a little early). An error is a non-200,
 * an unreadable answer, a wrong uid or a refusal.
 */
export async function runLoad(pool: Pool, path: string, reviews: () => Review, rate: number, seconds: number): Promise<LoadResult> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const { body, uid } = reviews();
    // A request sent up to 1 ms early (no sleep that short) is timed from when it left:
    // timed from its due time, sub-millisecond answers came out negative.
    const from = Math.min(due, performance.now());
    pending.push(
      post(pool, path, body).then(
        (a) => {
          latencies.push(performance.now() - from);
          if (a.status !== 200 || a.allowed !== true || a.uid !== uid) {
            errors++;
            firstError ??= `HTTP ${a.status} allowed=${String(a.allowed)} uid ${a.uid === uid ? 'ok' : 'wrong'} ${a.message ?? ''}`;
          }
        },
        (e: unknown) => {
          errors++;
          firstError ??= String(e);
        },
      ),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  return { sent: total, errors, firstError, latenciesMs: latencies, achievedRps: total / elapsed };
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
