/**
 * The main job: `gatehouse server` with nothing configured watches the machine's engine
 * socket and kubeconfig (a real podman socket, a real kube-apiserver), and the cluster/host
 * commands show and change what it watches.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { missing, podmanSocket } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const ready = kubeBinariesPresent() && existsSync(podmanSocket);

describe('gatehouse server with nothing configured', { skip: missing(ready, 'kube-apiserver/kine (.ci/setup.d/66-kube.sh) and the podman socket') }, () => {
  const dirs: string[] = [];
  let cluster: TestCluster | undefined;
  after(async () => {
    await cluster?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('watches the local engine and kubeconfig, and cluster/host commands manage sources', async () => {
    cluster = await startCluster();
    await createObjects(cluster, [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } } }]);
    const home = mkdtempSync(join(tmpdir(), 'gatehouse-main-'));
    dirs.push(home);
    const adminToken = `ghc_${randomBytes(32).toString('base64url')}`;
    const child = spawn(process.execPath, [bin, 'server', '--insecure-http', '--listen', '127.0.0.1:0', '--log-level', 'warn'], {
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', XDG_DATA_HOME: home, HOME: home, GATEHOUSE_ADMIN_TOKEN: adminToken, DOCKER_HOST: `unix://${podmanSocket}`, KUBECONFIG: cluster.kubeconfig },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const end = Date.now() + 60_000;
      while (!/watching cluster/.test(stderr) || !/watching host/.test(stderr)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no "watching" lines; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(stderr, new RegExp(`watching host "local": unix://${podmanSocket}`));
      const url = /listening on (\S+)/.exec(stderr)![1]!;
      const env = { GATEHOUSE_SERVER: url, GATEHOUSE_TOKEN: adminToken };
      const clusters = async () => JSON.parse((await runCli(['cluster', 'list', '--format', 'json'], { env })).stdout) as { id: string; name: string; state: string; deployments: number }[];
      let list = await clusters();
      for (let i = 0; i < 300 && !(list[0]?.state === 'up' && list[0].deployments === 1); i++) {
        await new Promise((r) => setTimeout(r, 200));
        list = await clusters();
      }
      assert.equal(list.length, 1);
      assert.equal(list[0]!.deployments, 1, JSON.stringify(list));
      const hosts = await runCli(['host', 'list'], { env });
      assert.equal(hosts.code, 0, hosts.stderr);
      assert.match(hosts.stdout, /local/);

      const added = await runCli(['cluster', 'add', 'second', '--kubeconfig', cluster.kubeconfig], { env });
      assert.equal(added.code, 0, added.stderr);
      assert.equal((await clusters()).length, 2);
      const dup = await runCli(['cluster', 'add', 'second', '--kubeconfig', cluster.kubeconfig], { env });
      assert.equal(dup.code, 2);
      assert.match(dup.stderr, /already exists/);
      assert.equal(dup.stderr.trim().split('\n').length, 1);
      const missingFile = await runCli(['cluster', 'add', 'third', '--kubeconfig', join(home, 'nope')], { env });
      assert.equal(missingFile.code, 2);
      assert.match(missingFile.stderr, /cannot read kubeconfig/);
      const badEndpoint = await runCli(['host', 'add', 'h', 'http://x'], { env });
      assert.equal(badEndpoint.code, 2);
      const second = (await clusters()).find((c) => c.name === 'second')!;
      assert.equal((await runCli(['cluster', 'remove', second.id], { env })).code, 0);
      assert.deepEqual((await clusters()).map((c) => c.name), [list[0]!.name]);
      const analyst = await runCli(['cluster', 'add', 'x', '--kubeconfig', cluster.kubeconfig], { env: { ...env, GATEHOUSE_TOKEN: 'ghc_' + 'A'.repeat(43) } });
      assert.equal(analyst.code, 2);
      assert.match(analyst.stderr, /401/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
