/**
 * `gatehouse sensor --node-name` and `--cgroup-parent` without a kernel: the host name
 * events are reported under (flag, $NODE_NAME, machine), the cgroup parent's parsing, the
 * scope read from a cgroup tree on disk (container directories as podman, Docker, containerd
 * and CRI-O name them), the scoped container lookup flows use, and the CLI's one-line errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupScope, cgroupV2Root, parseCgroupParent } from '../../src/sensor/cgroup-scope.js';
import { scopedLookup } from '../../src/sensor/run.js';
import type { ContainerInfo } from '../../src/sensor/containers.js';
import { reportingHost } from '../../src/cli/central-push.js';
import { isUserError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { randomBytes } from 'node:crypto';

const id = () => randomBytes(32).toString('hex');

function tree(): { root: string; done(): void } {
  const root = mkdtempSync(join(tmpdir(), 'gh-cgroup-'));
  writeFileSync(join(root, 'cgroup.controllers'), 'cpu io memory pids\n');
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
}

describe('--node-name', () => {
  it('is the flag, else $NODE_NAME (the downward API), else the machine name', () => {
    assert.equal(reportingHost('node-a', { NODE_NAME: 'node-b' }), 'node-a');
    assert.equal(reportingHost(undefined, { NODE_NAME: 'ip-10-0-1-7.eu-west-1.compute.internal' }), 'ip-10-0-1-7.eu-west-1.compute.internal');
    assert.equal(reportingHost(undefined, { NODE_NAME: '' }), hostname());
    assert.equal(reportingHost(undefined, {}), hostname());
  });

  it('refuses what is not a host name, naming where it came from', () => {
    for (const [flag, env, where] of [['node a', {}, '--node-name'], ['', {}, '--node-name'], [undefined, { NODE_NAME: 'x/../y' }, 'NODE_NAME'], ['-a', {}, '--node-name'], ['a'.repeat(254), {}, '--node-name']] as const) {
      assert.throws(() => reportingHost(flag, env), (e: unknown) => isUserError(e) && e.message.startsWith(where) && !e.message.includes('\n'));
    }
  });
});

describe('--cgroup-parent', () => {
  it('takes an absolute cgroup path, normalised', () => {
    assert.equal(parseCgroupParent('/kubepods.slice'), '/kubepods.slice');
    assert.equal(parseCgroupParent('/node-a//pods/'), '/node-a/pods');
    for (const bad of ['kubepods.slice', '/a/../b', '/./a', '/', '']) assert.throws(() => parseCgroupParent(bad), (e: unknown) => isUserError(e) && !e.message.includes('\n'), bad);
  });

  it('finds the cgroup v2 mount of a unified and of a hybrid host', () => {
    const t = tree();
    const hybrid = mkdtempSync(join(tmpdir(), 'gh-cgroup-hybrid-'));
    try {
      assert.equal(cgroupV2Root(t.root), t.root);
      mkdirSync(join(hybrid, 'unified'));
      assert.throws(() => cgroupV2Root(hybrid), (e: unknown) => isUserError(e) && /cgroup v2/.test(e.message));
      writeFileSync(join(hybrid, 'unified', 'cgroup.controllers'), '');
      assert.equal(cgroupV2Root(hybrid), join(hybrid, 'unified'));
    } finally {
      t.done();
      rmSync(hybrid, { recursive: true, force: true });
    }
  });

  it('scopes containers by the cgroup directories below the parent; the host and other parents are out', () => {
    const t = tree();
    try {
      const [podman, docker, containerd, crio, other] = [id(), id(), id(), id(), id()];
      mkdirSync(join(t.root, 'node-a', `libpod-${podman}`), { recursive: true });
      mkdirSync(join(t.root, 'node-a', 'kubepods-burstable.slice', 'kubepods-burstable-pod1.slice', `cri-containerd-${containerd}.scope`), { recursive: true });
      mkdirSync(join(t.root, 'node-a', `docker-${docker}.scope`), { recursive: true });
      mkdirSync(join(t.root, 'node-b', `libpod-${other}`), { recursive: true });
      const scope = new CgroupScope(parseCgroupParent('/node-a'), t.root);
      assert.equal(scope.hasContainer(podman.slice(0, 12)), true);
      assert.equal(scope.hasContainer(containerd.slice(0, 12)), true);
      assert.equal(scope.hasContainer(docker.slice(0, 12)), true);
      assert.equal(scope.hasContainer(other.slice(0, 12)), false, "another node's container");
      assert.equal(scope.hasContainer('host'), false);
      assert.equal(scope.hasContainer(undefined), false);
      // a negative answer is remembered: no walk per event of a foreign container
      const walks = scope.walks;
      assert.equal(scope.hasContainer(other.slice(0, 12)), false);
      assert.equal(scope.walks, walks);
      // a container started later below the parent is found by the next walk
      mkdirSync(join(t.root, 'node-a', `crio-${crio}.scope`));
      assert.equal(scope.hasContainer(crio.slice(0, 12)), true);
      assert.equal(scope.walks, walks + 1);
      // a parent that does not exist yet holds nothing (no error: kubelet may create it later)
      assert.equal(new CgroupScope('/not-yet', t.root).hasContainer(podman.slice(0, 12)), false);
    } finally {
      t.done();
    }
  });

  it('limits the container lookup of flows (conntrack attribution by address) to the scope', () => {
    const t = tree();
    try {
      const [mine, theirs] = [id(), id()];
      mkdirSync(join(t.root, 'node-a', `libpod-${mine}`), { recursive: true });
      const info = (full: string, ip: string) => ({ id: full.slice(0, 12), fullId: full, ips: [ip] }) as ContainerInfo;
      const all = new Map([[mine.slice(0, 12), info(mine, '10.88.0.2')], [theirs.slice(0, 12), info(theirs, '10.88.0.3')]]);
      const lookup = { byShort: (s: string) => all.get(s), byAddress: (ip: string) => [...all.values()].find((c) => c.ips?.includes(ip)) };
      const scoped = scopedLookup(lookup, new CgroupScope('/node-a', t.root));
      assert.equal(scoped.byAddress('10.88.0.2')?.fullId, mine);
      assert.equal(scoped.byAddress('10.88.0.3'), undefined);
      assert.equal(scoped.byShort(theirs.slice(0, 12)), undefined);
      assert.equal(scopedLookup(lookup, undefined), lookup);
    } finally {
      t.done();
    }
  });
});

describe('gatehouse sensor: bad --node-name / --cgroup-parent', () => {
  it('is one line and exit 2, before any probe starts', async () => {
    for (const [args, re] of [
      [['--node-name', 'not a name'], /^gatehouse: --node-name must be a host name/],
      [['--cgroup-parent', 'kubepods.slice'], /^gatehouse: --cgroup-parent must be an absolute cgroup path/],
    ] as const) {
      const r = await runCli(['sensor', '--events', '-', ...args], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
