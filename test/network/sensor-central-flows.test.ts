/**
 * The real sensor shipping flows to a real Central: `gatehouse sensor --flows … --server URL`
 * (bpftrace) while podman (runc) containers talk on a podman network — curl to nginx,
 * redis-cli to redis — and Central watches the same podman engine as a plain host (named as
 * the sensor reports itself), so both ends of every flow resolve to containers. The graph
 * API's observed edges among this run's containers must be exactly the two that talked.
 * The clients stay up after their work: an exited container no longer has its address, so
 * the server's (ingress) view of the connection could not be placed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLiveInventory } from '../../src/central/live/job.js';
import type { NetworkGraph } from '../../src/network/graph-types.js';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { startTestCentral } from '../helpers/central.js';

const IMAGE = 'localhost/gatehouse-net:1';
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const RUN = ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady && existsSync(podmanSocket), `podman, its socket ${podmanSocket} and the image ${IMAGE} (.ci/setup.d/41-net-image.sh)`);

const runId = Math.random().toString(36).slice(2, 8);
const net = `gh-scf-${runId}`;
const name = (n: string) => `gh-scf-${n}-${runId}`;

function podman(...args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('sensor flows into Central\'s network graph (real sensor, real Central, real podman)', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-scf-'));
  after(() => {
    for (const n of ['nginx', 'redis', 'curl', 'rcli']) spawnSync('podman', ['rm', '-f', '-t', '0', name(n)]);
    spawnSync('podman', ['network', 'rm', '-f', net]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the observed edges are exactly the containers that talked', async () => {
    podman('network', 'create', net);
    podman(...RUN, '-d', '--network', net, '--name', name('nginx'), IMAGE, 'nginx', '-g', 'daemon off;');
    podman(...RUN, '-d', '--network', net, '--name', name('redis'), IMAGE, 'redis-server', '--protected-mode', 'no', '--save', '');
    const ip = (n: string) => podman('inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name(n));
    const nginxIp = ip('nginx');
    const redisIp = ip('redis');

    const c = await startTestCentral();
    const live = startLiveInventory(c.ctx, { info: () => undefined, warn: (o) => console.error(JSON.stringify(o)) }, { debounceMs: 50 });
    let sensor: ReturnType<typeof spawn> | undefined;
    try {
      // Central watches this host's engine under the name the sensor reports itself by
      const added = await c.api('POST', '/api/v1/hosts', { name: hostname(), endpoint: `unix://${podmanSocket}` });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      await live.sync();

      let stderr = '';
      sensor = spawn(process.execPath, [BIN, 'sensor', '--flows', join(dir, 'flows.jsonl'), '--flow-interval', '5s', '--server', c.url, '--spool-dir', join(dir, 'spool')], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: await c.token('sensor') },
      });
      const closed = new Promise<number | null>((resolve) => sensor!.on('close', (code) => resolve(code)));
      sensor.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await until('the sensor ready', async () => {
        if (sensor!.exitCode !== null) throw new Error(`sensor exited: ${stderr}`);
        return stderr.includes('sensor ready');
      }, 300_000);

      // the clients talk once and stay up (their addresses stay theirs)
      podman(...RUN, '-d', '--network', net, '--name', name('curl'), IMAGE, 'sh', '-c', `curl -sS -o /dev/null http://${nginxIp}/ && exec sleep 600`);
      podman(...RUN, '-d', '--network', net, '--name', name('rcli'), IMAGE, 'sh', '-c', `redis-cli -h ${redisIp} set k v && exec sleep 600`);
      // every container is in Central's inventory before its flows arrive
      await until('the four containers in the inventory', async () => {
        await live.evaluator.settle();
        const r = await c.api('GET', '/api/v1/deployments?limit=1000');
        const names = new Set((r.body.items as { name: string }[]).map((d) => d.name));
        return ['nginx', 'redis', 'curl', 'rcli'].every((n) => names.has(name(n)));
      });
      await new Promise((r) => setTimeout(r, 7000)); // one interval closed: those flows are shipped while the sensor runs
      sensor.kill('SIGINT');
      assert.equal(await closed, 0, stderr);
      assert.doesNotMatch(stderr, /push to Central/, 'every flow was accepted');

      const analyst = await c.token('analyst');
      const ourEdges = (g: NetworkGraph) => {
        const label = new Map(g.nodes.map((n) => [n.id, n.label]));
        const ours = g.edges.filter((e) => e.observed && `${label.get(e.source)} ${label.get(e.target)}`.includes(runId));
        return { ours, edges: ours.map((e) => `${label.get(e.source)} -> ${label.get(e.target)} ${e.protocol}/${e.port}`).sort() };
      };
      let last: NetworkGraph | undefined;
      const expected = [`${name('curl')} -> ${name('nginx')} TCP/80`, `${name('rcli')} -> ${name('redis')} TCP/6379`];
      const seen = await until('the observed edges', async () => {
        const g = await c.api('GET', '/api/v1/network/graph?since=1h', undefined, analyst);
        assert.equal(g.status, 200, JSON.stringify(g.body));
        last = g.body as NetworkGraph;
        const r = ourEdges(last);
        return r.edges.length >= expected.length && r;
      }, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(last && { nodes: last.nodes.filter((n) => n.label.includes(runId) || n.kind === 'external'), edges: last.edges.filter((x) => x.observed) })}`);
      });
      // labels of plain-host containers are "<host>/<name>" or the name
      const bare = (s: string) => s.replace(/[^ ]*\/(gh-scf-)/g, '$1');
      assert.deepEqual(seen.edges.map(bare), expected.sort(), JSON.stringify(seen.ours));
      const ours = seen.ours;
      for (const e of ours) assert.ok(e.observed!.connections >= 1);
    } finally {
      if (sensor && sensor.exitCode === null) sensor.kill('SIGKILL');
      await live.stop();
      await c.close();
    }
  });
});
