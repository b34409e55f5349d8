/**
 * `gatehouse admission serve` behind a real kube-apiserver (test/helpers/kube-cluster.ts),
 * called through real ValidatingWebhookConfigurations (clientConfig.url to 127.0.0.1 with
 * the webhook's local CA as caBundle), reporting to a real Central (SQLite):
 *   - a privileged pod is denied with the policy's message; a compliant one is admitted and
 *     its inform violations reach the client as Warning headers;
 *   - pods/exec into kube-system is denied at admission (no kubelet runs);
 *   - a sensitive workload without node pinning is denied, a pinned one admitted;
 *   - break-glass is admitted, and Central holds the use as an alert that needs review;
 *   - with the webhook killed (SIGKILL), the fail-closed configuration rejects and the
 *     fail-open one admits;
 *   - the budget: a hook that never answers is cut off at the budget, well before the
 *     webhook's timeoutSeconds: admitted with a warning under fail-open (behind a Fail
 *     configuration, so an apiserver timeout would have rejected), denied with the budget's
 *     message under fail-closed (behind an Ignore configuration, so only the webhook's own
 *     answer can reject).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { loadAdmissionPolicies } from '../../src/admission/policies.js';
import { AdmissionServer, type HookImage } from '../../src/admission/server.js';
import { ensureLocalTls } from '../../src/central/tls.js';
import { subjects } from '../../src/subjects/index.js';
import { missing } from '../helpers/components.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { kubeBinariesPresent, kubeRequest, startCluster, type KubeResponse, type TestCluster } from '../helpers/kube-cluster.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const skip = missing(kubeBinariesPresent(), 'kube-apiserver and kine are not built (bash .ci/setup.d/66-kube.sh)');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-admission-api-'));

let cluster: TestCluster;
let central: TestCentral;
let webhook: ChildProcess;
let webhookUrl = '';
let caBundle = '';
let webhookErr = '';
const inProcess: AdmissionServer[] = [];


const kube = (method: string, path: string, body?: unknown): Promise<KubeResponse> => kubeRequest(cluster, method, path, body);

const createPod = (ns: string, pod: Record<string, any>, dryRun = false) => kube('POST', `/api/v1/namespaces/${ns}/pods${dryRun ? '?dryRun=All' : ''}`, pod);

function pod(name: string, spec: Record<string, any> = {}, meta: Record<string, any> = {}): Record<string, any> {
  const { container, ...rest } = spec;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...meta }, spec: { containers: [{ name: 'web', image: '127.0.0.1:5000/web:1.0', ...(container ?? {}) }], ...rest } };
}
const privileged = (name: string, meta: Record<string, any> = {}) => pod(name, { container: { securityContext: { privileged: true } } }, meta);

function webhookEntry(name: string, url: string, ca: string, failurePolicy: 'Fail' | 'Ignore', namespaces: string[], timeoutSeconds = 5) {
  return {
    name,
    clientConfig: { url: `${url}/validate`, caBundle: Buffer.from(ca).toString('base64') },
    rules: [
      { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
      { operations: ['CONNECT'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec', 'pods/attach', 'pods/portforward'] },
    ],
    failurePolicy, sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds,
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces }] },
  };
}

async function createConfig(name: string, webhooks: unknown[]): Promise<void> {
  const r = await kube('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name }, webhooks });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

/**
 * The apiserver picks configurations up asynchronously: wait until a dry-run privileged pod
 * is refused by `webhookName` (or, for a webhook that admits everything, gets `warning`).
 */
async function waitActive(ns: string, webhookName: string, warning?: RegExp): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await createPod(ns, privileged(`probe-${Date.now()}`), true);
    if (warning ? r.warnings.some((w) => warning.test(w)) : r.status >= 400 && String(r.body?.message ?? '').includes(webhookName)) return;
    if (Date.now() > deadline) throw new Error(`webhook ${webhookName} not active for ${ns}: last answer ${r.status} ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function startWebhook(): Promise<void> {
  const token = await central.token('admission');
  const dataDir = join(work, 'webhook');
  webhook = spawn(process.execPath, [bin, 'admission', 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--server', central.url, '--spool-dir', join(work, 'spool'), '--cluster', 'test'], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: token, GATEHOUSE_SERVER: undefined, GATEHOUSE_CA: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  webhook.stderr!.on('data', (d: Buffer) => (webhookErr += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!webhookUrl) {
    if (webhook.exitCode !== null) throw new Error(`admission serve exited: ${webhookErr}`);
    if (Date.now() > deadline) throw new Error(`admission serve did not start: ${webhookErr}`);
    for (const line of webhookErr.split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as { msg: string; url?: string; caFile?: string };
      if (rec.msg === 'admission webhook listening') {
        webhookUrl = rec.url!;
        caBundle = readFileSync(rec.caFile!, 'utf8');
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('admission webhook behind kube-apiserver', { skip }, () => {
  before(async () => {
    [cluster, central] = await Promise.all([startCluster(), startTestCentral()]);
    await startWebhook();
    for (const ns of ['app', 'lenient', 'slow-open', 'slow-closed']) {
      const r = await kube('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    await createConfig('gatehouse', [
      webhookEntry('strict.gatehouse.dev', webhookUrl, caBundle, 'Fail', ['app', 'kube-system']),
      webhookEntry('lenient.gatehouse.dev', webhookUrl, caBundle, 'Ignore', ['lenient']),
    ]);
    await waitActive('app', 'strict.gatehouse.dev');
    await waitActive('lenient', 'lenient.gatehouse.dev');
  });
  after(async () => {
    if (webhook && webhook.exitCode === null && webhook.signalCode === null) webhook.kill('SIGKILL');
    for (const s of inProcess) await s.close();
    await cluster?.stop();
    await central?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('a privileged pod is denied with the policy\'s message; a compliant one is admitted with warnings', async () => {
    const denied = await createPod('app', privileged('priv'));
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    assert.match(denied.body.message, /admission webhook "strict\.gatehouse\.dev" denied the request: denied by Gatehouse policy pss-privileged \(PSS baseline: Privileged container\): Pod app\/priv at spec\.containers\[0\]\.securityContext\.privileged — fix: Remove securityContext\.privileged/);
    assert.equal((await kube('GET', '/api/v1/namespaces/app/pods/priv')).status, 404, 'not stored');
    const ok = await createPod('app', pod('web'));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.ok(ok.warnings.some((w) => w.startsWith('run-as-non-root:')), ok.warnings.join(' | '));
  });

  test('pods/exec into kube-system is denied at admission', async () => {
    assert.equal((await createPod('kube-system', pod('tools'))).status, 201);
    const r = await kube('POST', '/api/v1/namespaces/kube-system/pods/tools/exec?command=sh&stdin=true&stdout=true&tty=true&container=web');
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(r.body.message, /admission webhook "strict\.gatehouse\.dev" denied the request: denied by Gatehouse policy exec-protected-namespace/);
    // In a namespace that is not protected, admission passes and the request goes on to the
    // kubelet connection (none exists here): a different failure, not the webhook's.
    assert.equal((await createPod('app', pod('shell'))).status, 201);
    const other = await kube('POST', '/api/v1/namespaces/app/pods/shell/exec?command=sh&stdout=true&container=web');
    assert.doesNotMatch(JSON.stringify(other.body), /gatehouse/i);
  });

  test('a sensitive workload without node pinning is denied; pinned with tolerations it is admitted', async () => {
    const sensitive = { labels: { 'gatehouse.dev/sensitive': 'true' } };
    const denied = await createPod('app', pod('vault', {}, sensitive));
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    assert.match(denied.body.message, /sensitive-workload-node-pool \(Sensitive workload not pinned to the segregated node pool\)/);
    const pinned = await createPod('app', pod('vault', { nodeSelector: { 'gatehouse.dev/pool': 'sensitive' }, tolerations: [{ key: 'gatehouse.dev/pool', operator: 'Equal', value: 'sensitive', effect: 'NoSchedule' }] }, sensitive));
    assert.equal(pinned.status, 201, JSON.stringify(pinned.body));
  });

  test('break-glass is admitted and reported to Central as an alert that needs review', async () => {
    const r = await createPod('app', privileged('incident', { annotations: { 'gatehouse.dev/break-glass': 'INC-2042' } }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(r.warnings.some((w) => w.startsWith('Gatehouse break-glass (gatehouse.dev/break-glass: INC-2042): admitted despite pss-privileged')), r.warnings.join(' | '));
    assert.match(webhookErr, /"msg":"break-glass used".*"ticket":"INC-2042"/);
    const deadline = Date.now() + 20_000;
    let alert: any;
    while (!alert) {
      const res = await central.api('GET', '/api/v1/alerts?source=admission');
      assert.equal(res.status, 200);
      alert = res.body.items.find((a: any) => a.rule === 'break-glass');
      if (!alert) {
        if (Date.now() > deadline) throw new Error(`no break-glass alert in Central: ${JSON.stringify(res.body)}; webhook: ${webhookErr}`);
        await new Promise((res2) => setTimeout(res2, 200));
      }
    }
    assert.equal(alert.cluster, 'test');
    assert.equal(alert.data.needsReview, true);
    assert.deepEqual(alert.data.breakGlass, { ticket: 'INC-2042', annotation: 'gatehouse.dev/break-glass', overridden: ['pss-privileged'] });
    assert.equal(alert.data.user, 'admin');
    assert.equal(alert.finding.data.ticket, 'INC-2042');
    // The earlier denials are decisions in Central.
    const decisions = await central.api('GET', '/api/v1/decisions?source=admission');
    assert.ok(decisions.body.items.some((d: any) => d.rule === 'pss-privileged' && d.data.decision === 'deny'), JSON.stringify(decisions.body.items.map((d: any) => d.rule)));
  });

  test('the budget: a hook that never answers is cut off, fail-open admits and fail-closed denies, before timeoutSeconds', async () => {
    const tls = await ensureLocalTls(join(work, 'slow'));
    const { policies, exceptions } = await loadAdmissionPolicies([], subjects());
    const never = { check: () => new Promise<never>(() => undefined) };
    const imagesOf = (o: Record<string, unknown>): HookImage[] => ((o.spec as { containers?: { image: string }[] }).containers ?? []).map((c) => ({ image: c.image }));
    const urls: string[] = [];
    for (const failClosed of [false, true]) {
      const s = new AdmissionServer({ policies, exceptions, subjects: subjects(), tls: { cert: tls.cert, key: tls.key }, budgetMs: 1000, failClosed, imageTrust: { gate: never, imagesOf } });
      inProcess.push(s);
      urls.push(await s.start());
    }
    await createConfig('gatehouse-slow', [
      // Fail: an apiserver timeout would reject; only the webhook's fail-open answer admits.
      webhookEntry('slowopen.gatehouse.dev', urls[0]!, tls.ca, 'Fail', ['slow-open'], 10),
      // Ignore: an apiserver timeout would admit; only the webhook's fail-closed answer rejects.
      webhookEntry('slowclosed.gatehouse.dev', urls[1]!, tls.ca, 'Ignore', ['slow-closed'], 10),
    ]);
    await waitActive('slow-open', 'slowopen.gatehouse.dev', /budget/);
    await waitActive('slow-closed', 'slowclosed.gatehouse.dev');
    const open = await createPod('slow-open', pod('a'));
    assert.equal(open.status, 201, JSON.stringify(open.body));
    assert.ok(open.warnings.some((w) => /did not decide within its 1000 ms budget; admitted unchecked \(fail-open\)/.test(w)), open.warnings.join(' | '));
    assert.ok(open.ms >= 900 && open.ms < 5000, `answered in ${open.ms} ms`);
    const closed = await createPod('slow-closed', pod('b'));
    assert.ok(closed.status >= 400, JSON.stringify(closed.body));
    assert.match(closed.body.message, /admission webhook "slowclosed\.gatehouse\.dev" denied the request: Gatehouse did not decide within its 1000 ms budget \(fail-closed\)/);
    assert.ok(closed.ms < 5000, `answered in ${closed.ms} ms`);
  });

  test('with the webhook killed, the fail-closed configuration rejects and the fail-open one admits', async () => {
    webhook.kill('SIGKILL');
    await new Promise((r) => webhook.once('exit', r));
    const strict = await createPod('app', pod('after-kill'));
    assert.ok(strict.status >= 500, JSON.stringify(strict.body));
    assert.match(strict.body.message, /failed calling webhook "strict\.gatehouse\.dev"/);
    const lenient = await createPod('lenient', privileged('after-kill'));
    assert.equal(lenient.status, 201, JSON.stringify(lenient.body));
  });
});
