/**
 * `k8s check --server` results appear live: a findings push (`POST /api/v1/ingest/findings`,
 * ci token) sends a `violations` change notice on the console's stream, after the violations
 * are stored (a reader re-reading on the notice finds them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { startTestCentral } from '../helpers/central.js';

const finding = (policy: string, name: string) => ({
  id: policy, kind: 'policy', severity: 'HIGH', title: `${policy} on ${name}`,
  resource: { k8s: { kind: 'Deployment', namespace: 'shop', name, container: 'app' } },
  policy: { id: policy, enforcement: 'deny-admission' },
});

test('a findings push is announced on the stream as a violations notice, once its violations are readable', { timeout: 30_000 }, async () => {
  const c = await startTestCentral();
  try {
    const analyst = await c.token('analyst');
    const ticket = (await c.api('POST', '/api/v1/stream/tickets', undefined, analyst)).body.ticket as string;
    const res = await request(`${c.url}/api/v1/stream?ticket=${ticket}`);
    assert.equal(res.statusCode, 200);
    const target = 'prod-manifests';
    let text = '';
    // On the notice, read the violations as the console does: they must already be there.
    const readOnNotice = new Promise<number>((resolve) => {
      res.body.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('"topic":"violations"')) {
          void c.api('GET', '/api/v1/violations?state=active', undefined, analyst).then((r) => resolve(r.body.items.length));
        }
      });
    });
    await new Promise((r) => setTimeout(r, 50)); // the stream's listeners are attached
    assert.equal((await c.api('GET', '/api/v1/violations?state=active')).body.items.length, 0);
    const push = await c.api('POST', '/api/v1/ingest/findings', { source: 'k8s-check', target, findings: [finding('privileged', 'web'), finding('host-network', 'api')] }, await c.token('ci'));
    assert.equal(push.status, 200, JSON.stringify(push.body));
    assert.equal(await readOnNotice, 2);
    assert.match(text, new RegExp(`event: change\\ndata: \\{"topic":"violations","subject":"k8s-check/${target}"\\}\\n\\n`));
    res.body.destroy();
  } finally {
    await c.close();
  }
});
