/**
 * L7: access logs to Istio AuthorizationPolicy suggestions (src/network/l7).
 *
 * - The corpus web app (scripts/corpus/webapp.py, real python3) serves requests that the real
 *   `curl` sends; its handler is run with http.server's own request logger switched back on
 *   (the app silences it), so the log is exactly Python http.server's. `gatehouse netpol
 *   authz` turns it into a policy, and an Istio matcher written here (exact principals /
 *   ipBlocks, methods, exact paths and `{*}` one-segment templates) checks that every
 *   answered request of the log is allowed and that requests never seen are not.
 * - Envoy JSON lines in the documented format dictionary keys (Istio's JSON access log
 *   encoding: method, path, authority, response_code, upstream_cluster,
 *   downstream_remote_address, plus %DOWNSTREAM_PEER_URI_SAN% and
 *   %REQ(X-FORWARDED-CLIENT-CERT)% fields): principals from the peer SAN and from XFCC,
 *   destinations from outbound clusters and authorities, refused calls left out, malformed
 *   lines counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { hasCommand, requireComponent } from '../helpers/components.js';
import { authzFromAccessLogs, pathTemplate, selectorsFromModel } from '../../src/network/l7/index.js';
import { loadCluster } from '../../src/kube/netpol/index.js';

const webapp = fileURLToPath(new URL('../../scripts/corpus/webapp.py', import.meta.url));

interface Req { principal?: string; ip?: string; method: string; path: string }

/** Istio ALLOW semantics for the fields the suggestions use, written independently. */
function allowed(policies: Record<string, any>[], req: Req): boolean {
  const pathOk = (pattern: string, path: string): boolean => {
    const p = pattern.split('/');
    const a = path.split('/');
    return p.length === a.length && p.every((seg, i) => (seg === '{*}' ? a[i] !== '' : seg === a[i]));
  };
  return policies.some((pol) =>
    (pol.spec.rules as any[]).some((rule) => {
      const fromOk = !rule.from || (rule.from as any[]).some((f) =>
        (f.source.principals ?? []).includes(req.principal) || (f.source.ipBlocks ?? []).includes(req.ip));
      const toOk = !rule.to || (rule.to as any[]).some((t) => t.operation.methods.includes(req.method) && (t.operation.paths as string[]).some((p) => pathOk(p, req.path)));
      return fromOk && toOk;
    }),
  );
}

test('path templates: numbers, UUIDs, long hex and opaque tokens become *, words stay', () => {
  assert.equal(pathTemplate('/items/42'), '/items/*');
  assert.equal(pathTemplate('/users/3f1e2a64-9a1b-4c1d-8e2f-0123456789ab/orders?x=1'.replace(/\?.*/, '')), '/users/*/orders');
  assert.equal(pathTemplate('/blobs/9f86d081884c7d659a2feaa0c55ad015'), '/blobs/*');
  assert.equal(pathTemplate('/t/AbCdEf0123456789_xyZ9'), '/t/*');
  assert.equal(pathTemplate('/items/recent'), '/items/recent');
  assert.equal(pathTemplate('/v2/api'), '/v2/api');
  assert.equal(pathTemplate('/'), '/');
  assert.equal(pathTemplate('/deadbeef'), '/deadbeef');
});

test('the corpus web app (python3) driven by curl: its http.server log becomes an AuthorizationPolicy that allows exactly what was served', async (t) => {
  if (!requireComponent(t, hasCommand('python3') && hasCommand('curl'), 'python3 and curl are needed to run and drive the corpus web app')) return;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-l7-'));
  const log = join(dir, 'access.log');
  writeFileSync(log, '');
  // The app silences http.server's request log (log_message = pass); put the stdlib logger back
  // and point its database into the test directory. Nothing else of the app changes.
  const runner = [
    'import importlib.util, sys',
    'from http.server import BaseHTTPRequestHandler',
    `spec = importlib.util.spec_from_file_location("webapp", ${JSON.stringify(webapp)})`,
    'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
    `m.DB = ${JSON.stringify(join(dir, 'app.db'))}`,
    'm.Handler.log_message = BaseHTTPRequestHandler.log_message',
    'm.db().close()',
    'srv = m.ThreadingHTTPServer(("127.0.0.1", 0), m.Handler)',
    'print(srv.server_address[1], flush=True)',
    'srv.serve_forever()',
  ].join('\n');
  const child = spawn('python3', ['-c', runner], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => appendFileSync(log, d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`webapp exited ${code}: ${readFileSync(log, 'utf8')}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const curl = (...args: string[]) => {
      const r = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(curl(`${base}/items`), '200');
    assert.equal(curl(`${base}/items/17`), '200');
    assert.equal(curl(`${base}/items/3f1e2a64-9a1b-4c1d-8e2f-0123456789ab?full=1`), '200');
    assert.equal(curl('-X', 'POST', '-H', 'content-type: application/json', '-d', '{"name":"a","n":1}', `${base}/items`), '201');
    assert.equal(curl(`${base}/health`), '200');
    assert.equal(curl(`${base}/nothing-here`), '404');
    // Wait until every request is in the log (the app logs after answering).
    for (let i = 0; i < 100 && readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('HTTP/1.1"')).length < 6; i++) await new Promise((r) => setTimeout(r, 50));
  } finally {
    child.kill('SIGTERM');
  }
  try {
    const text = readFileSync(log, 'utf8');
    const requestLines = text.split('\n').filter((l) => l.includes('HTTP/1.1"'));
    assert.equal(requestLines.length, 6, text);
    assert.match(requestLines[0]!, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/items HTTP\/1\.1" 200 -$/);
    appendFileSync(log, 'garbage line\n{"not": "a request"}\n');

    const r = await runCli(['netpol', 'authz', '--access-log', log, '--destination', 'corpus/webapp', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: 2 access log line\(s\) could not be read/);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.counts, { lines: 8, calls: 6, malformed: 2, skipped: 0, refused: 1, policies: 1 });
    assert.deepEqual(
      doc.operations.map((o: any) => `${o.caller.value} ${o.method} ${o.template} ${o.count}`).sort(),
      ['127.0.0.1 GET /health 1', '127.0.0.1 GET /items 1', '127.0.0.1 GET /items/* 2', '127.0.0.1 POST /items 1'],
    );
    const manifests = join(dir, 'webapp.yaml');
    writeFileSync(manifests, [
      'apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: webapp, namespace: corpus}',
      'spec:', '  selector: {matchLabels: {app.kubernetes.io/name: webapp}}',
      '  template:', '    metadata: {labels: {app.kubernetes.io/name: webapp, tier: api}}', '    spec: {containers: [{name: app, image: python:3}]}', '',
    ].join('\n'));
    const y = await runCli(['netpol', 'authz', manifests, '--access-log', log, '--destination', 'corpus/webapp']);
    assert.equal(y.code, 0, y.stderr);
    const policies = parseAllDocuments(y.stdout).map((d) => d.toJS());
    assert.equal(policies.length, 1);
    assert.equal(policies[0].apiVersion, 'security.istio.io/v1');
    assert.deepEqual(policies[0].metadata.namespace, 'corpus');
    assert.equal(policies[0].spec.action, 'ALLOW');
    // With the manifests, the selector is the workload's own pod labels (no app= guess).
    assert.deepEqual(policies[0].spec.selector, { matchLabels: { 'app.kubernetes.io/name': 'webapp', tier: 'api' } });
    assert.doesNotMatch(y.stderr, /the selector assumes/);
    // Every answered request of the log is allowed, read back from the log itself here.
    for (const line of requestLines) {
      const m = /^(\S+) .*"(\w+) (\S+) HTTP\/1\.1" (\d+)/.exec(line)!;
      const path = m[3]!.replace(/\?.*/, '');
      assert.equal(allowed(policies, { ip: m[1], method: m[2]!, path }), m[4] !== '404', line);
    }
    // Never seen: other methods, deeper paths, the debug endpoint, other callers.
    for (const req of [
      { ip: '127.0.0.1', method: 'DELETE', path: '/items/17' },
      { ip: '127.0.0.1', method: 'POST', path: '/items/17' },
      { ip: '127.0.0.1', method: 'GET', path: '/items/17/admin' },
      { ip: '127.0.0.1', method: 'GET', path: '/debug' },
      { ip: '10.0.0.9', method: 'GET', path: '/items' },
    ]) assert.equal(allowed(policies, req), false, JSON.stringify(req));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Lines in the documented keys of Envoy's / Istio's JSON access log format (format dictionary).
const envoy = (o: Record<string, unknown>) => JSON.stringify({
  start_time: '2026-12-07T09:00:00.000Z', protocol: 'HTTP/1.1', response_flags: '-', bytes_received: 0, bytes_sent: 120, duration: 3,
  x_forwarded_for: null, user_agent: 'curl/8.5.0', request_id: '6c0b3f6e-1b1d-4d3a-9b8c-7c5e2e0d1a2b', ...o,
});

test('Envoy JSON access logs: principals from the peer SAN and XFCC, destinations from clusters and authorities', async () => {
  const xfcc = 'By=spiffe://cluster.local/ns/bookinfo/sa/reviews;Hash=4e2c;Subject="";URI=spiffe://cluster.local/ns/bookinfo/sa/productpage';
  const lines = [
    // Inbound at reviews' sidecar: the client's SPIFFE ID from %DOWNSTREAM_PEER_URI_SAN%.
    envoy({ method: 'GET', path: '/reviews/0', authority: 'reviews:9080', response_code: 200, upstream_cluster: 'inbound|9080||', downstream_remote_address: '10.1.0.7:51234', downstream_peer_uri_san: 'spiffe://cluster.local/ns/bookinfo/sa/productpage', pod_namespace: 'bookinfo' }),
    envoy({ method: 'GET', path: '/reviews/1?x=2', authority: 'reviews.bookinfo.svc.cluster.local:9080', response_code: '200', upstream_cluster: 'inbound|9080||', downstream_remote_address: '10.1.0.7:51236', x_forwarded_client_cert: xfcc }),
    // Outbound at productpage's sidecar, same call seen from the client: the destination from the cluster.
    envoy({ method: 'GET', path: '/ratings/3f1e2a64-9a1b-4c1d-8e2f-0123456789ab', authority: 'ratings:9080', response_code: 200, upstream_cluster: 'outbound|9080||ratings.bookinfo.svc.cluster.local', downstream_remote_address: '10.1.0.8:40000', downstream_peer_uri_san: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }),
    envoy({ method: 'POST', path: '/ratings/7', authority: 'ratings:9080', response_code: 201, upstream_cluster: 'outbound|9080||ratings.bookinfo.svc.cluster.local', downstream_remote_address: '10.1.0.8:40002', downstream_peer_uri_san: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }),
    // Refused: not blessed.
    envoy({ method: 'DELETE', path: '/ratings/7', authority: 'ratings:9080', response_code: 403, upstream_cluster: 'outbound|9080||ratings.bookinfo.svc.cluster.local', downstream_peer_uri_san: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }),
    // No identity: the client address.
    envoy({ method: 'GET', path: '/health', authority: 'ratings.bookinfo:9080', response_code: 200, upstream_cluster: 'inbound|9080||', downstream_remote_address: '10.1.0.99:3333' }),
    '{"method": "GET", "path": "/x"', // truncated JSON
    envoy({ path: '/no-method' }),
    '[1,2,3]',
    // A TCP connection through the same proxy (no HTTP): skipped, not malformed.
    envoy({ method: null, path: null, protocol: null, response_code: 0, upstream_cluster: 'outbound|6379||redis.bookinfo.svc.cluster.local', downstream_remote_address: '10.1.0.8:40010' }),
  ];
  const r = authzFromAccessLogs([{ file: 'envoy.log', text: `${lines.join('\n')}\n` }]);
  assert.deepEqual(r.counts, { lines: 10, calls: 6, malformed: 3, skipped: 1, refused: 1, policies: 2 });
  assert.deepEqual(r.malformedSamples, ['envoy.log:7: invalid JSON', 'envoy.log:8: JSON without method and path', 'envoy.log:9: JSON that is not an object']);
  const byName = new Map(r.policies.map((p) => [p.metadata.name, p]));
  assert.deepEqual(byName.get('gatehouse-l7-reviews')!.spec, {
    selector: { matchLabels: { app: 'reviews' } },
    action: 'ALLOW',
    rules: [{ from: [{ source: { principals: ['cluster.local/ns/bookinfo/sa/productpage'] } }], to: [{ operation: { methods: ['GET'], paths: ['/reviews/{*}'] } }] }],
  });
  assert.deepEqual(byName.get('gatehouse-l7-ratings')!.metadata.namespace, 'bookinfo');
  assert.deepEqual(byName.get('gatehouse-l7-ratings')!.spec.rules, [
    { from: [{ source: { ipBlocks: ['10.1.0.99'] } }], to: [{ operation: { methods: ['GET'], paths: ['/health'] } }] },
    { from: [{ source: { principals: ['cluster.local/ns/bookinfo/sa/reviews'] } }], to: [{ operation: { methods: ['GET', 'POST'], paths: ['/ratings/{*}'] } }] },
  ]);
  assert.equal(allowed(r.policies, { principal: 'cluster.local/ns/bookinfo/sa/reviews', method: 'DELETE', path: '/ratings/7' }), false);

  // With manifests: ratings' Service selector; reviews (no Service, no workload) keeps the app= guess, noted.
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-l7-model-'));
  try {
    const f = join(dir, 'bookinfo.yaml');
    writeFileSync(f, 'apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: bookinfo}\nspec: {selector: {app: ratings, version: v1}, ports: [{port: 9080}]}\n');
    const { model } = await loadCluster([f]);
    const sel = authzFromAccessLogs([{ file: 'envoy.log', text: lines.join('\n') }], { selectorOf: selectorsFromModel(model) });
    assert.deepEqual(sel.policies.find((p) => p.metadata.name === 'gatehouse-l7-ratings')!.spec.selector, { matchLabels: { app: 'ratings', version: 'v1' } });
    assert.deepEqual(sel.notes.filter((n) => n.includes('selector assumes')), ['bookinfo/reviews: the selector assumes the pods carry app=reviews; adjust it to the workload\'s labels (or give the manifests)']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Widened to namespaces: the same operations, callers as source.namespaces.
  const wide = authzFromAccessLogs([{ file: 'envoy.log', text: lines.join('\n') }], { source: 'namespace' });
  assert.deepEqual(wide.policies.find((p) => p.metadata.name === 'gatehouse-l7-reviews')!.spec.rules, [
    { from: [{ source: { namespaces: ['bookinfo'] } }], to: [{ operation: { methods: ['GET'], paths: ['/reviews/{*}'] } }] },
  ]);
  assert.equal(allowed(r.policies, { principal: 'cluster.local/ns/bookinfo/sa/productpage', method: 'GET', path: '/ratings/7' }), false);
});

test('netpol authz: bad input is one line, never a stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-l7-bad-'));
  try {
    const missingFile = await runCli(['netpol', 'authz', '--access-log', join(dir, 'nope.log')]);
    assert.equal(missingFile.code, 2);
    assert.match(missingFile.stderr, /cannot read access log .*nope\.log/);
    assert.doesNotMatch(missingFile.stderr, /\n\s+at /);
    const binary = join(dir, 'bin.log');
    writeFileSync(binary, Buffer.from([0, 1, 2, 255, 10, 123, 10]));
    const r = await runCli(['netpol', 'authz', '--access-log', binary]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: 2 access log line\(s\) could not be read/);
    assert.match(r.stdout, /No API calls observed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
