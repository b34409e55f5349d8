/**
 * The admission webhook's GET /metrics on its own HTTPS listener (127.0.0.1:0, a local CA):
 * the Prometheus text format, and reviews counted by endpoint, operation and decision after
 * real AdmissionReviews through the default policies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { loadAdmissionPolicies } from '../../src/admission/policies.js';
import { AdmissionServer } from '../../src/admission/server.js';
import { ensureLocalTls } from '../../src/central/tls.js';
import { subjects } from '../../src/subjects/index.js';
import { assertProcessMetrics, parseExposition } from './prom-text.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-admission-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let uid = 0;
const review = (name: string, privileged: boolean, operation = 'CREATE') => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: {
    uid: `uid-${++uid}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'app', name, operation, userInfo: { username: 'alice', groups: ['dev'] }, dryRun: false,
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'app' }, spec: { containers: [{ name: 'web', image: 'registry.example/web:1.0', ...(privileged ? { securityContext: { privileged: true } } : {}) }] } },
  },
});

test('GET /metrics on the webhook listener counts reviews by operation and decision, with latencies', async () => {
  const tls = await ensureLocalTls(dir);
  const agent = new Agent({ connect: { ca: tls.ca } });
  const loaded = await loadAdmissionPolicies([], subjects());
  const server = new AdmissionServer({ policies: loaded.policies, exceptions: loaded.exceptions, subjects: subjects(), tls: { cert: tls.cert, key: tls.key } });
  const url = await server.start();
  try {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const post = async (body: unknown, path = '/validate') => {
      const res = await undiciFetch(url + path, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as { response?: { allowed: boolean } } };
    };
    const metrics = async () => {
      const res = await undiciFetch(`${url}/metrics`, { dispatcher: agent });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return parseExposition(await res.text());
    };
    const before = await metrics();
    assertProcessMetrics(before);
    assert.equal(before.types.get('gatehouse_admission_reviews_total'), 'counter');
    assert.equal(before.types.get('gatehouse_admission_review_duration_seconds'), 'histogram');
    assert.equal(before.types.get('gatehouse_admission_errors_total'), 'counter');
    assert.equal(before.sum('gatehouse_admission_reviews_total'), 0);

    assert.equal((await post(review('priv', true))).json.response?.allowed, false);
    assert.equal((await post(review('priv2', true))).json.response?.allowed, false);
    const ok = await post(review('ok', false));
    assert.equal(ok.json.response?.allowed, true);
    assert.equal((await post(review('ok', false), '/mutate')).json.response?.allowed, true);
    assert.equal((await post('{not json')).status, 400);

    const m = await metrics();
    assert.equal(m.value('gatehouse_admission_reviews_total', { endpoint: 'validate', operation: 'CREATE', decision: 'deny' }), 2);
    // The default policies warn about a pod without runAsNonRoot: admitted with warnings.
    assert.equal(m.value('gatehouse_admission_reviews_total', { endpoint: 'validate', operation: 'CREATE', decision: 'warn' }), 1);
    assert.equal(m.value('gatehouse_admission_reviews_total', { endpoint: 'mutate', operation: 'CREATE', decision: 'allow' }), 1);
    assert.equal(m.value('gatehouse_admission_review_duration_seconds_count', { endpoint: 'validate' }), 3);
    assert.equal(m.value('gatehouse_admission_review_duration_seconds_bucket', { endpoint: 'validate', le: '+Inf' }), 3);
    assert.ok(m.value('gatehouse_admission_review_duration_seconds_sum', { endpoint: 'validate' }) > 0);
    assert.equal(m.value('gatehouse_admission_errors_total', { kind: 'bad-request' }), 1);
    assert.ok(!m.samples.some((s) => Object.values(s.labels).some((v) => v.startsWith('uid-') || v === 'priv')), 'no uids or names as labels');
  } finally {
    await server.close();
    await agent.close();
  }
});
