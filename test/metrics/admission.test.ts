/**
 * The admission webhook's GET /metrics on its own HTTPS listener (127.0.0.1:0, a local CA):
 * the Prometheus text format, and reviews counted by endpoint, operation and decision after
 * real AdmissionReviews through the default policies; with an image-trust gate against the
 * local registry, the verdict cache's hits and misses.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { loadAdmissionPolicies } from '../../src/admission/policies.js';
import { ImageTrustGate } from '../../src/admission/image-trust.js';
import { containerImagesOf } from '../../src/admission/image-trust-images.js';
import { AdmissionServer } from '../../src/admission/server.js';
import { parseTrustPolicy } from '../../src/trust/policy.js';
import { missing, testRegistry } from '../helpers/components.js';
import { pushTestImage, registryUp, uniqueRepo } from '../trust/fixtures.js';
import { ensureLocalTls } from '../../src/central/tls.js';
import { subjects } from '../../src/subjects/index.js';
import { assertProcessMetrics, parseExposition } from './prom-text.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-admission-'));
const scrapeToken = randomBytes(32).toString('hex');
const bearer = { authorization: `Bearer ${scrapeToken}` };
after(() => rmSync(dir, { recursive: true, force: true }));

let uid = 0;
const review = (name: string, privileged: boolean, operation = 'CREATE', image = 'registry.example/web:1.0') => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: {
    uid: `uid-${++uid}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'app', name, operation, userInfo: { username: 'alice', groups: ['dev'] }, dryRun: false,
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'app' }, spec: { containers: [{ name: 'web', image, ...(privileged ? { securityContext: { privileged: true } } : {}) }] } },
  },
});

test('GET /metrics on the webhook listener counts reviews by operation and decision, with latencies', async () => {
  const tls = await ensureLocalTls(dir);
  const agent = new Agent({ connect: { ca: tls.ca } });
  const loaded = await loadAdmissionPolicies([], subjects());
  const server = new AdmissionServer({ policies: loaded.policies, exceptions: loaded.exceptions, subjects: subjects(), tls: { cert: tls.cert, key: tls.key }, metricsToken: scrapeToken });
  const url = await server.start();
  try {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    // Every API needs a token: no token, or a wrong one, is 401 and shows nothing.
    for (const headers of [{}, { authorization: `Bearer ${'0'.repeat(64)}` }, { authorization: scrapeToken }]) {
      const res = await undiciFetch(`${url}/metrics`, { dispatcher: agent, headers });
      const text = await res.text();
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.doesNotMatch(text, /gatehouse_admission/);
    }
    const post = async (body: unknown, path = '/validate') => {
      const res = await undiciFetch(url + path, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as { response?: { allowed: boolean } } };
    };
    const metrics = async () => {
      const res = await undiciFetch(`${url}/metrics`, { dispatcher: agent, headers: bearer });
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

test('image-trust cache hits and misses are counted (gate against the local registry)', { skip: missing(registryUp(), `needs the registry at ${testRegistry} (.ci/setup.d/30-registry.sh)`) }, async () => {
  const tls = await ensureLocalTls(dir);
  const agent = new Agent({ connect: { ca: tls.ca } });
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const policy = await parseTrustPolicy({ keys: { release: { pem: pub } }, rules: [{ match: [`${testRegistry}/trust-test/metrics-*`], action: 'require', keys: ['release'] }], default: 'reject' }, 'test policy', dir);
  const unsigned = await pushTestImage(uniqueRepo('metrics-unsigned'));
  const gate = new ImageTrustGate({ policy });
  const loaded = await loadAdmissionPolicies([], subjects());
  const server = new AdmissionServer({ policies: loaded.policies, exceptions: loaded.exceptions, subjects: subjects(), tls: { cert: tls.cert, key: tls.key }, imageTrust: { gate, imagesOf: containerImagesOf }, metricsToken: scrapeToken });
  const url = await server.start();
  try {
    const validate = async () => {
      const res = await undiciFetch(`${url}/validate`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(review('unsigned', false, 'CREATE', unsigned.ref)) });
      return ((await res.json()) as { response: { allowed: boolean } }).response.allowed;
    };
    assert.equal(await validate(), false, 'an unsigned image is refused');
    assert.equal(await validate(), false, 'again, from the cache');
    const res = await undiciFetch(`${url}/metrics`, { dispatcher: agent, headers: bearer });
    const m = parseExposition(await res.text());
    assert.equal(m.types.get('gatehouse_admission_image_trust_cache_total'), 'counter');
    const s = gate.stats();
    assert.ok(s.verdicts.hits >= 1 && s.verdicts.misses >= 1, JSON.stringify(s));
    assert.equal(m.value('gatehouse_admission_image_trust_cache_total', { cache: 'verdicts', result: 'hit' }), s.verdicts.hits);
    assert.equal(m.value('gatehouse_admission_image_trust_cache_total', { cache: 'verdicts', result: 'miss' }), s.verdicts.misses);
    assert.equal(m.value('gatehouse_admission_image_trust_cache_total', { cache: 'tags', result: 'miss' }), s.tags.misses);
    assert.equal(m.value('gatehouse_admission_reviews_total', { endpoint: 'validate', decision: 'deny' }), 2);
  } finally {
    await server.close();
    await gate.close();
    await agent.close();
  }
});

test('without a scrape token the webhook serves no metrics', async () => {
  const tls = await ensureLocalTls(dir);
  const agent = new Agent({ connect: { ca: tls.ca } });
  const loaded = await loadAdmissionPolicies([], subjects());
  const server = new AdmissionServer({ policies: loaded.policies, exceptions: loaded.exceptions, subjects: subjects(), tls: { cert: tls.cert, key: tls.key } });
  const url = await server.start();
  try {
    const res = await undiciFetch(`${url}/metrics`, { dispatcher: agent, headers: bearer });
    assert.equal(res.status, 404);
    assert.match(await res.text(), /--metrics-token-file/);
  } finally {
    await server.close();
    await agent.close();
  }
});
