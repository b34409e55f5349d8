/**
 * The admission webhook server on 127.0.0.1:0 over HTTPS (a local CA made for the test):
 * the default policies (deploy pack overlay + admission pack) deny, warn and admit; exec,
 * placement, break-glass, audit mode and exclusions; the time budget with a hook that is
 * too slow (fail-open and fail-closed); image-trust refusals and /mutate patches through the
 * hook; and bad input (not JSON, not a review, an unknown object kind, a body over the limit)
 * answered in one error shape without stopping the server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { loadAdmissionPolicies, webhookOverlay } from '../../src/admission/policies.js';
import { AdmissionServer, type AdmissionAuditRecord, type AdmissionServerOptions, type HookImage, type ImageTrustHook } from '../../src/admission/server.js';
import { ensureLocalTls, type LocalTls } from '../../src/central/tls.js';
import { loadPacks, resolvePackInput } from '../../src/policy/pack.js';
import { subjects } from '../../src/subjects/index.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admission-serve-'));
let tls: LocalTls;
let agent: Agent;
const servers: AdmissionServer[] = [];
before(async () => {
  tls = await ensureLocalTls(dir);
  agent = new Agent({ connect: { ca: tls.ca } });
});
after(async () => {
  for (const s of servers) await s.close();
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Started {
  url: string;
  audit: AdmissionAuditRecord[];
  logs: { level: string; msg: string; data?: Record<string, unknown> }[];
}

async function serve(opts: Partial<AdmissionServerOptions> = {}, packs: string[] = []): Promise<Started> {
  const loaded = await loadAdmissionPolicies(packs, subjects());
  const audit: AdmissionAuditRecord[] = [];
  const logs: Started['logs'] = [];
  const server = new AdmissionServer({
    policies: loaded.policies, exceptions: loaded.exceptions, subjects: subjects(), tls: { cert: tls.cert, key: tls.key },
    audit: { write: (r) => audit.push(r) }, log: (level, msg, data) => logs.push({ level, msg, data }), ...opts,
  });
  servers.push(server);
  return { url: await server.start(), audit, logs };
}

async function post(url: string, body: unknown, path = '/validate'): Promise<{ status: number; json: any; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(url + path, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), ms: Date.now() - t0 };
}

let uidSeq = 0;
function review(object: Record<string, any>, over: Record<string, any> = {}): Record<string, any> {
  const ns = object.metadata?.namespace ?? 'app';
  const plural = `${String(object.kind).toLowerCase()}s`;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${++uidSeq}`,
      kind: { group: object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '', version: 'v1', kind: object.kind },
      resource: { group: object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '', version: 'v1', resource: plural },
      namespace: ns, name: object.metadata?.name ?? '', operation: 'CREATE',
      userInfo: { username: 'alice', groups: ['dev', 'system:authenticated'] },
      object, dryRun: false,
      ...over,
    },
  };
}

function pod(name: string, spec: Record<string, any> = {}, meta: Record<string, any> = {}): Record<string, any> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'app', ...meta },
    spec: { containers: [{ name: 'web', image: 'registry.example/web:1.0', ...(spec.container ?? {}) }], ...Object.fromEntries(Object.entries(spec).filter(([k]) => k !== 'container')) },
  };
}

const privileged = (name: string, meta: Record<string, any> = {}) => pod(name, { container: { securityContext: { privileged: true } } }, meta);

function execReview(ns: string, groups: string[], sub = 'exec'): Record<string, any> {
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: `uid-${++uidSeq}`, kind: { group: '', version: 'v1', kind: sub === 'exec' ? 'PodExecOptions' : sub === 'attach' ? 'PodAttachOptions' : 'PodPortForwardOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' }, subResource: sub, namespace: ns, name: 'coredns-1', operation: 'CONNECT',
      userInfo: { username: 'bob', groups },
      object: sub === 'exec' ? { kind: 'PodExecOptions', apiVersion: 'v1', command: ['sh'], stdin: true, tty: true } : { kind: 'PodAttachOptions', apiVersion: 'v1' },
    },
  };
}

describe('default policies', () => {
  let s: Started;
  before(async () => {
    s = await serve();
  });

  test('a privileged pod is denied: the message names the policy, the object path and the fix', async () => {
    const r = await post(s.url, review(privileged('web')));
    assert.equal(r.status, 200);
    const res = r.json.response;
    assert.equal(res.allowed, false);
    assert.equal(res.status.code, 403);
    assert.match(res.status.message, /^denied by Gatehouse policy pss-privileged \(PSS baseline: Privileged container\): Pod app\/web at spec\.containers\[0\]\.securityContext\.privileged — fix: Remove securityContext\.privileged/);
    // least-privilege's own privileged policy is inform under the webhook overlay: a warning.
    assert.ok(res.warnings.some((w: string) => w.startsWith('privileged-container:')), res.warnings.join('\n'));
    assert.equal(r.json.apiVersion, 'admission.k8s.io/v1');
    assert.equal(res.uid, `uid-${uidSeq}`);
    const rec = s.audit.at(-1)!;
    assert.equal(rec.decision, 'deny');
    assert.ok(rec.policies.includes('pss-privileged'));
  });

  test('each PSS baseline violation denies: host namespaces, hostPath, added capabilities', async () => {
    const cases: [Record<string, any>, RegExp][] = [
      [pod('hostnet', { hostNetwork: true }), /pss-hostnamespaces .*at spec\.hostNetwork/],
      [pod('hostpath', { volumes: [{ name: 'root', hostPath: { path: '/' } }] }), /pss-hostpathvolumes .*spec\.volumes\[0\]/],
      [pod('caps', { container: { securityContext: { capabilities: { add: ['SYS_ADMIN'] } } } }), /pss-capabilities-baseline /],
    ];
    for (const [object, re] of cases) {
      const res = (await post(s.url, review(object))).json.response;
      assert.equal(res.allowed, false, object.metadata.name);
      assert.match(res.status.message, re);
    }
  });

  test('a compliant pod is admitted; inform policies come back as warnings', async () => {
    const res = (await post(s.url, review(pod('ok')))).json.response;
    assert.equal(res.allowed, true);
    assert.equal(res.status, undefined);
    assert.ok(res.warnings.some((w: string) => w.startsWith('run-as-non-root:')), res.warnings.join('\n'));
    // Policies about other objects of the cluster are not run on one reviewed object.
    assert.ok(!res.warnings.some((w: string) => w.startsWith('non-isolated-pod:')));
  });

  test('a Deployment template is checked like a pod', async () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'app' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { hostPID: true, containers: [{ name: 'c', image: 'x/y:1' }] } } } };
    const res = (await post(s.url, review(deployment))).json.response;
    assert.equal(res.allowed, false);
    assert.match(res.status.message, /pss-hostnamespaces .*Deployment app\/api at spec\.template\.spec\.hostPID/);
  });

  test('exec, attach and port-forward into a protected namespace are denied; the break-glass group and other namespaces pass', async () => {
    for (const sub of ['exec', 'attach', 'portforward']) {
      const res = (await post(s.url, execReview('kube-system', ['system:authenticated'], sub))).json.response;
      assert.equal(res.allowed, false, sub);
      assert.match(res.status.message, /^denied by Gatehouse policy exec-protected-namespace \(Exec, attach or port-forward into a protected namespace\): Pod kube-system\/coredns-1 — fix: Debug through logs/);
    }
    assert.equal((await post(s.url, execReview('kube-system', ['gatehouse:break-glass']))).json.response.allowed, true);
    assert.equal((await post(s.url, execReview('app', ['system:authenticated']))).json.response.allowed, true);
    const rec = s.audit.at(-1)!;
    assert.equal(rec.resource, 'pods/exec');
    assert.equal(rec.user, 'bob');
  });

  test('a sensitive workload is admitted only when pinned to the segregated pool with tolerations', async () => {
    const sensitive = { labels: { 'gatehouse.dev/sensitive': 'true' } };
    const selector = { nodeSelector: { 'gatehouse.dev/pool': 'sensitive' } };
    const tolerations = { tolerations: [{ key: 'gatehouse.dev/pool', operator: 'Equal', value: 'sensitive', effect: 'NoSchedule' }] };
    const none = (await post(s.url, review(pod('s1', {}, sensitive)))).json.response;
    assert.equal(none.allowed, false);
    assert.match(none.status.message, /sensitive-workload-node-pool .*— fix: Add a nodeSelector/);
    assert.equal((await post(s.url, review(pod('s2', selector, sensitive)))).json.response.allowed, false, 'nodeSelector without tolerations');
    assert.equal((await post(s.url, review(pod('s3', tolerations, sensitive)))).json.response.allowed, false, 'tolerations without nodeSelector');
    assert.equal((await post(s.url, review(pod('s4', { ...selector, ...tolerations }, sensitive)))).json.response.allowed, true);
    const affinity = { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gatehouse.dev/pool', operator: 'In', values: ['sensitive'] }] }] } } } };
    assert.equal((await post(s.url, review(pod('s5', { ...affinity, ...tolerations }, sensitive)))).json.response.allowed, true, 'required node affinity pins too');
    assert.equal((await post(s.url, review(pod('plain', {})))).json.response.allowed, true, 'not labelled sensitive');
  });

  test('break-glass with a ticket admits, warns, logs and records the use; without a ticket it does not', async () => {
    const res = (await post(s.url, review(privileged('bg', { annotations: { 'gatehouse.dev/break-glass': 'INC-4711' } })))).json.response;
    assert.equal(res.allowed, true);
    assert.match(res.warnings[0], /^Gatehouse break-glass \(gatehouse\.dev\/break-glass: INC-4711\): admitted despite pss-privileged; this use is reported for review$/);
    const rec = s.audit.at(-1)!;
    assert.deepEqual({ ticket: rec.breakGlass?.ticket, overridden: rec.breakGlass?.overridden }, { ticket: 'INC-4711', overridden: ['pss-privileged'] });
    assert.equal(rec.breakGlass?.finding.id, 'break-glass');
    const line = s.logs.find((l) => l.msg === 'break-glass used');
    assert.equal(line?.data?.ticket, 'INC-4711');
    assert.equal(line?.data?.user, 'alice');
    const empty = (await post(s.url, review(privileged('bg2', { annotations: { 'gatehouse.dev/break-glass': ' ' } })))).json.response;
    assert.equal(empty.allowed, false);
  });

  test('UPDATE: a violation the stored object already had warns, a new one denies; status writes are not posture', async () => {
    const old = privileged('web');
    const relabelled = { ...old, metadata: { ...old.metadata, labels: { tier: 'front' } } };
    const same = (await post(s.url, review(relabelled, { operation: 'UPDATE', oldObject: old }))).json.response;
    assert.equal(same.allowed, true, JSON.stringify(same));
    assert.ok(same.warnings.some((w: string) => w.startsWith('pss-privileged:')), same.warnings.join('\n'));
    const fresh = (await post(s.url, review(privileged('web'), { operation: 'UPDATE', oldObject: pod('web') }))).json.response;
    assert.equal(fresh.allowed, false, 'privileged added by the update');
    const status = (await post(s.url, review(privileged('web'), { operation: 'UPDATE', subResource: 'status', oldObject: pod('web') }))).json.response;
    assert.equal(status.allowed, true, 'pods/status');
    const debug = (await post(s.url, review(pod('web', { ephemeralContainers: [{ name: 'dbg', image: 'busybox', securityContext: { privileged: true } }] }), { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject: pod('web') }))).json.response;
    assert.equal(debug.allowed, false, 'a privileged ephemeral container');
    assert.match(debug.status.message, /spec\.ephemeralContainers\[0\]/);
  });

  test('bad input: one error shape, and the server keeps answering', async () => {
    const notJson = await post(s.url, '{"apiVersion": ');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.error, 'bad-admission-review');
    assert.match(notJson.json.message, /^invalid AdmissionReview: not valid JSON/);
    const wrongKind = await post(s.url, { apiVersion: 'admission.k8s.io/v1', kind: 'TokenReview', request: {} });
    assert.equal(wrongKind.status, 400);
    assert.match(wrongKind.json.message, /kind is "TokenReview", expected "AdmissionReview"/);
    const badField = await post(s.url, { ...review(pod('x')), request: { ...review(pod('x')).request, userInfo: { username: 'a', groups: [1] } } });
    assert.equal(badField.status, 400);
    assert.match(badField.json.message, /request\.userInfo\.groups\[0\] must be a string/);
    const empty = await post(s.url, '');
    assert.equal(empty.status, 400);
    assert.match(empty.json.message, /body is empty/);
    // An object kind Gatehouse does not know (a custom resource) is admitted; nothing applies to it.
    const widget = await post(s.url, review({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'app' }, spec: { anything: [1, 2, 3] } }));
    assert.equal(widget.status, 200);
    assert.equal(widget.json.response.allowed, true);
    // A body over the API server's 3 MiB limit.
    const huge = review(pod('huge', {}, { annotations: { big: 'x'.repeat(3 * 1024 * 1024 + 10) } }));
    const big = await post(s.url, huge);
    assert.ok(big.status === 400 || big.status === 413, String(big.status));
    assert.match(big.json.message, /invalid AdmissionReview: body is (\d+ bytes, )?over the \d+-byte limit/);
    // Deeply nested: refused before JSON.parse.
    const deep = await post(s.url, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'['.repeat(600)}${']'.repeat(600)}}`);
    assert.equal(deep.status, 400);
    assert.match(deep.json.message, /nested deeper than 512 levels/);
    const notFound = await fetch(`${s.url}/nope`, { dispatcher: agent });
    assert.equal(notFound.status, 404);
    assert.match(((await notFound.json()) as { message: string }).message, /POST \/validate and POST \/mutate/);
    // Still serving.
    assert.equal((await post(s.url, review(pod('after')))).json.response.allowed, true);
  });
});

describe('modes', () => {
  test('--dry-run-only: a denial comes back as a would-deny warning', async () => {
    const s = await serve({ dryRunOnly: true });
    const res = (await post(s.url, review(privileged('web')))).json.response;
    assert.equal(res.allowed, true);
    assert.match(res.warnings[0], /^Gatehouse audit mode, would deny: denied by Gatehouse policy pss-privileged/);
    assert.equal(s.audit.at(-1)!.wouldDeny, true);
  });

  test('namespace and label exclusions admit without evaluation', async () => {
    const s = await serve({ excludeNamespaces: ['kube-*'], excludeLabels: ['gatehouse.dev/skip', 'team=infra'] });
    const inNs = review({ ...privileged('p'), metadata: { name: 'p', namespace: 'kube-system' } });
    assert.deepEqual((await post(s.url, inNs)).json.response, { uid: inNs.request.uid, allowed: true });
    assert.equal(s.audit.at(-1)!.excludedBy, 'namespace kube-system');
    assert.equal((await post(s.url, review(privileged('p', { labels: { 'gatehouse.dev/skip': '' } })))).json.response.allowed, true);
    assert.equal((await post(s.url, review(privileged('p', { labels: { team: 'infra' } })))).json.response.allowed, true);
    assert.equal((await post(s.url, review(privileged('p', { labels: { team: 'web' } })))).json.response.allowed, false, 'another value of the label');
  });

  test('--policy: only the given packs, as written', async () => {
    const pack = join(import.meta.dirname, 'fixtures', 'exec-pack.yaml');
    const s = await serve({}, [pack]);
    const res = (await post(s.url, review(privileged('web')))).json.response;
    assert.equal(res.allowed, true, 'no deploy pack unless asked for');
  });

  test('the overlay leaves k8s check\'s deploy pack alone and only changes enforcement', async () => {
    const { policies } = await loadPacks([resolvePackInput('deploy')], subjects());
    const priv = policies.find((p) => p.id === 'privileged-container')!;
    assert.ok(priv.enforcement.includes('deny-admission'), 'the shared pack still says deny-admission');
    assert.deepEqual(webhookOverlay(priv)?.enforcement, ['inform']);
    const pss = policies.find((p) => p.id === 'pss-privileged')!;
    assert.deepEqual(webhookOverlay(pss), pss);
    assert.equal(webhookOverlay(policies.find((p) => p.category === 'pss-restricted')!), undefined);
  });
});

/** An image-trust hook that answers after `delayMs` (or never), as a registry that hangs would. */
function slowGate(delayMs: number | 'never', verdict: (img: HookImage) => { allowed: boolean; outcome: string; reason?: string; digest?: string } = () => ({ allowed: true, outcome: 'verified', digest: 'sha256:' + 'a'.repeat(64) })): ImageTrustHook & { calls: number } {
  const gate = {
    calls: 0,
    async check(images: readonly HookImage[]) {
      gate.calls++;
      if (delayMs === 'never') await new Promise(() => undefined);
      else await new Promise((r) => setTimeout(r, delayMs));
      const verdicts = images.map((i) => ({ image: i.image, container: i.container, ...verdict(i) }));
      const patches = images.flatMap((i, n) => (verdicts[n]!.outcome === 'verified' && i.path ? [{ op: 'replace' as const, path: i.path, value: `${i.image}@sha256:${'a'.repeat(64)}` }] : []));
      return { verdicts, patches };
    },
  };
  return gate;
}

const imagesOf = (o: Record<string, unknown>): HookImage[] =>
  ((o.spec as { containers?: { name: string; image: string }[] }).containers ?? []).map((c, i) => ({ image: c.image, container: c.name, path: `/spec/containers/${i}/image` }));

describe('budget and image trust', () => {
  test('a hook slower than the budget is cut off at the budget: fail-open admits with a warning', async () => {
    const s = await serve({ budgetMs: 300, imageTrust: { gate: slowGate('never'), imagesOf } });
    const r = await post(s.url, review(pod('slow')));
    assert.equal(r.json.response.allowed, true);
    assert.match(r.json.response.warnings[0], /did not decide within its 300 ms budget; admitted unchecked \(fail-open\)/);
    assert.ok(r.ms >= 280 && r.ms < 1500, `answered in ${r.ms} ms`);
    assert.equal(s.audit.at(-1)!.timedOut, true);
    assert.ok(s.logs.some((l) => /budget of 300 ms ran out/.test(l.msg)));
  });

  test('fail-closed denies at the budget', async () => {
    const s = await serve({ budgetMs: 300, failClosed: true, imageTrust: { gate: slowGate(5000), imagesOf } });
    const r = await post(s.url, review(pod('slow')));
    assert.equal(r.json.response.allowed, false);
    assert.equal(r.json.response.status.code, 500);
    assert.match(r.json.response.status.message, /did not decide within its 300 ms budget \(fail-closed\)/);
    assert.ok(r.ms < 1500, `answered in ${r.ms} ms`);
  });

  test('a hook within the budget decides: a rejected image denies, a timeout verdict follows the failure policy; /mutate pins', async () => {
    const gate = slowGate(20, (i) => (i.image.includes('unsigned') ? { allowed: false, outcome: 'rejected', reason: 'no signature by the required key' } : i.image.includes('slowreg') ? { allowed: false, outcome: 'timeout', reason: 'no verdict by the deadline' } : { allowed: true, outcome: 'verified' }));
    const open = await serve({ imageTrust: { gate, imagesOf } });
    const rejected = (await post(open.url, review(pod('u', { container: { image: 'reg/unsigned:1' } })))).json.response;
    assert.equal(rejected.allowed, false);
    assert.match(rejected.status.message, /^denied by Gatehouse: image-trust: image reg\/unsigned:1 \(container web\) is not trusted: no signature by the required key/);
    const unknown = (await post(open.url, review(pod('t', { container: { image: 'slowreg/x:1' } })))).json.response;
    assert.equal(unknown.allowed, true);
    assert.match(unknown.warnings[0], /could not be verified: no verdict by the deadline; admitted unverified \(fail-open\)/);
    const closed = await serve({ failClosed: true, imageTrust: { gate, imagesOf } });
    assert.equal((await post(closed.url, review(pod('t', { container: { image: 'slowreg/x:1' } })))).json.response.allowed, false);
    // Break-glass lifts an image refusal too.
    const bg = (await post(open.url, review(pod('u', { container: { image: 'reg/unsigned:1' } }, { annotations: { 'gatehouse.dev/break-glass': 'INC-1' } })))).json.response;
    assert.equal(bg.allowed, true);
    assert.match(bg.warnings[0], /admitted despite image trust/);
    const m = (await post(open.url, review(pod('ok', { container: { image: 'reg/signed:1' } })), '/mutate')).json.response;
    assert.equal(m.allowed, true);
    assert.equal(m.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(m.patch, 'base64').toString()), [{ op: 'replace', path: '/spec/containers/0/image', value: `reg/signed:1@sha256:${'a'.repeat(64)}` }]);
  });

  test('/mutate without an image-trust hook admits unchanged', async () => {
    const s = await serve();
    const m = (await post(s.url, review(privileged('p')), '/mutate')).json.response;
    assert.equal(m.allowed, true);
    assert.equal(m.patch, undefined);
  });
});
