/**
 * Central watching a plain container host (the real podman socket): a host added through
 * the API lists its containers as deployments with their explained risk; a removed
 * container's deployment is kept with its deletion time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { startLiveInventory } from '../../src/central/live/job.js';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { startTestCentral } from '../helpers/central.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const NAME = `gh-live-${randomBytes(4).toString('hex')}`;
const podmanPresent = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;

function podman(...args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('live inventory of a plain host (real podman socket)', { skip: missing(podmanPresent, `podman, its socket ${podmanSocket} and the image ${IMAGE} (bash .ci/setup)`) }, () => {
  after(() => spawnSync('podman', ['rm', '-f', '-t', '0', NAME]));

  test('containers become ranked deployments; a removed one is kept as deleted', async () => {
    podman('run', '-d', ...RUN_FLAGS, '--name', NAME, '--privileged', '-v', '/:/host:ro', '-p', '127.0.0.1::8080', IMAGE, 'sleep', '600');
    const c = await startTestCentral();
    const live = startLiveInventory(c.ctx, { info: () => undefined, warn: (o) => console.error(JSON.stringify(o)) }, { debounceMs: 50 });
    try {
      assert.equal((await c.api('POST', '/api/v1/hosts', { name: 'lab', endpoint: 'http://nope' })).status, 400);
      const added = await c.api('POST', '/api/v1/hosts', { name: 'lab', endpoint: `unix://${podmanSocket}` });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      await live.sync();
      const mine = await until('the container as a deployment', async () => {
        await live.evaluator.settle();
        const r = await c.api('GET', '/api/v1/deployments?limit=1000');
        return r.body.items.find((d: { name: string }) => d.name === NAME);
      });
      assert.equal(mine.kind, 'Container');
      assert.equal(mine.host, 'lab');
      assert.deepEqual(mine.images, [IMAGE]);
      const details = mine.riskFactors.flatMap((f: { details: string[] }) => f.details).join('\n');
      assert.match(details, /privileged/i);
      assert.match(details, /\/ /, `the host root mount is named: ${details}`);
      const hosts = await c.api('GET', '/api/v1/hosts');
      assert.equal(hosts.body.items[0].state, 'up');

      // An alert from this host's sensor lands on the container's deployment and raises its runtime risk.
      const sensor = await c.token('sensor');
      const alert = { id: `a-${NAME}`, type: 'alert', time: new Date().toISOString(), finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'CRITICAL', title: 'Terminal shell in container', resource: { container: { id: 'x', name: NAME } } } };
      assert.equal((await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host: 'lab' }, events: [alert] }, sensor)).status, 200);
      const alerted = await until('runtime risk', async () => {
        await live.evaluator.settle();
        const d = await c.api('GET', `/api/v1/deployments/${mine.id}`);
        return d.body.alerts.length === 1 && d.body.riskScore > mine.riskScore && d.body;
      });
      assert.match(alerted.riskFactors.find((f: { name: string }) => f.name === 'runtime').details.join('\n'), /critical/i);

      podman('rm', '-f', '-t', '0', NAME);
      await until('the deployment marked deleted', async () => {
        await live.evaluator.settle();
        const d = await c.api('GET', `/api/v1/deployments/${mine.id}`);
        return d.body.deletedAt;
      });
      assert.ok(!(await c.api('GET', '/api/v1/deployments?limit=1000')).body.items.some((d: { name: string }) => d.name === NAME));
    } finally {
      await live.stop();
      await c.close();
    }
  });
});
