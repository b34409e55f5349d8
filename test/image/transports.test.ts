/**
 * The same images read through all four transports — the local Distribution registry,
 * the OCI layout they were built in, `podman save` output and podman's Docker API —
 * must give identical squashed listings, and the listing must show layer semantics.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { missing, podmanSocket, testRegistry } from '../helpers/components.js';
import { ARCHIVE_DIR, OCI_DIR, REGISTRY_IMAGES } from '../fixtures/test-images.js';

const env = { DOCKER_HOST: `unix://${podmanSocket}` };
const ready =
  existsSync(join(OCI_DIR, 'index.json')) && existsSync(join(ARCHIVE_DIR, 'layers.tar')) && existsSync(podmanSocket);
const skip = missing(ready, 'test images not built or podman socket down (run bash .ci/setup)');

interface Row {
  path: string;
  type: string;
  size: number;
  mode: string;
  uid: number;
  gid: number;
  linkname: string | null;
  layer: number;
}

async function ls(ref: string, extra: string[] = []): Promise<Row[]> {
  const res = await runCli(['image', 'ls', '--insecure', '--format', 'json', ...extra, ref], { env });
  assert.equal(res.code, 0, `gatehouse image ls ${ref} failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as Row[];
}

function transports(name: 'debian' | 'layers'): string[] {
  const daemonName = REGISTRY_IMAGES[name];
  return [REGISTRY_IMAGES[name], `oci:${OCI_DIR}:${name}`, `docker-archive:${join(ARCHIVE_DIR, `${name}.tar`)}`, `docker-daemon:${daemonName}`];
}

describe('four transports, one filesystem', { skip }, () => {
  for (const name of ['layers', 'debian'] as const) {
    it(`${name}: registry, oci, docker-archive and docker-daemon list identically`, async () => {
      const [first, ...rest] = await Promise.all(transports(name).map((r) => ls(r)));
      assert.ok(first!.length > 10);
      for (const other of rest) assert.deepEqual(other, first);
    });
  }

  it('a zstd-compressed layer gives the same filesystem as its gzip twin', async () => {
    assert.deepEqual(await ls(REGISTRY_IMAGES.layersZstd), await ls(REGISTRY_IMAGES.layers));
    assert.deepEqual(await ls(`oci:${OCI_DIR}:layers-zstd`), await ls(REGISTRY_IMAGES.layers));
  });
});

describe('squashed layer semantics', { skip }, () => {
  let rows: Map<string, Row>;
  before(async () => {
    rows = new Map((await ls(REGISTRY_IMAGES.layers)).map((r) => [r.path, r]));
  });

  it('JSON rows have exactly the documented keys', () => {
    for (const r of rows.values()) assert.deepEqual(Object.keys(r), ['path', 'type', 'size', 'mode', 'uid', 'gid', 'linkname', 'layer']);
  });
  it('whiteouts delete files and whole directories of lower layers', () => {
    assert.ok(!rows.has('/data/remove-me.txt'));
    assert.ok(!rows.has('/data/big.bin'));
    for (const p of rows.keys()) assert.ok(!p.startsWith('/data/dir-to-remove'), p);
    assert.equal(rows.get('/data/keep.txt')?.layer, 0);
    for (const p of rows.keys()) assert.ok(!p.includes('.wh.'), `whiteout marker listed: ${p}`);
  });
  it('an opaque directory hides lower-layer children and keeps its own', () => {
    assert.ok(!rows.has('/opq/old1') && !rows.has('/opq/old2'));
    assert.equal(rows.get('/opq/new1')?.layer, 1);
  });
  it('replaced files come from the top layer', () => {
    assert.equal(rows.get('/etc/passwd')?.layer, 2);
    assert.equal(rows.get('/etc/passwd')?.size, 60);
  });
  it('symlinks, hard links, devices, fifos, modes and owners are kept', () => {
    assert.deepEqual(rows.get('/usr/bin/link'), { path: '/usr/bin/link', type: 'symlink', size: 0, mode: '0644', uid: 0, gid: 0, linkname: 'tool', layer: 1 });
    assert.equal(rows.get('/etc/alt')?.linkname, '/etc/passwd');
    assert.equal(rows.get('/usr/bin/tool2-hard')?.type, 'hardlink');
    assert.equal(rows.get('/usr/bin/tool2-hard')?.linkname, '/usr/bin/tool2');
    assert.equal(rows.get('/usr/bin/tool2-hard')?.size, rows.get('/usr/bin/tool2')?.size);
    assert.equal(rows.get('/dev/null')?.type, 'char');
    assert.equal(rows.get('/data/fifo')?.type, 'fifo');
    assert.equal(rows.get('/usr/bin/suid')?.mode, '4755');
    assert.equal(rows.get('/etc/shadow')?.gid, 42);
    assert.equal(rows.get('/app/run.sh')?.uid, 1000);
  });
  it('parents are implicit, and a path through a symlinked directory lands at its target', () => {
    assert.equal(rows.get('/implicit/sub')?.type, 'dir');
    assert.equal(rows.get('/implicit/sub/file.txt')?.layer, 2);
    assert.equal(rows.get('/usr/bin/extra')?.layer, 2);
    assert.equal(rows.get('/bin')?.type, 'symlink');
  });
});

describe('platform selection from an index', { skip }, () => {
  it('defaults to the host platform (linux/amd64 here) and honours --platform', async () => {
    const amd = await ls(REGISTRY_IMAGES.multiarch, ['--platform', 'linux/amd64']);
    assert.ok(amd.some((r) => r.path === '/etc/passwd'));
    const arm = await ls(REGISTRY_IMAGES.multiarch, ['--platform', 'linux/arm64']);
    assert.deepEqual(arm.map((r) => r.path), ['/etc', '/etc/arch']);
    const armOci = await ls(`oci:${OCI_DIR}:multiarch`, ['--platform', 'linux/arm64/v8']);
    assert.deepEqual(armOci, arm);
  });
  it('names the available platforms when the wanted one is missing', async () => {
    const res = await runCli(['image', 'ls', '--insecure', '--platform', 'linux/s390x', REGISTRY_IMAGES.multiarch]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\/v8\)/);
  });
});

describe('image inspect', { skip }, () => {
  it('reports digest, platform, OS, config, layers with history and sizes (JSON)', async () => {
    const res = await runCli(['image', 'inspect', '--insecure', '--format', 'json', REGISTRY_IMAGES.debian]);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout);
    assert.match(r.digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(r.platform, 'linux/amd64');
    assert.equal(r.os.id, 'debian');
    assert.equal(r.os.versionId, '12');
    assert.deepEqual(r.config.cmd, ['/bin/bash']);
    assert.equal(r.layers.length, 1);
    assert.equal(r.layers[0].createdBy, 'debootstrap --variant=minbase bookworm');
    assert.ok(r.layers[0].expandedSize > r.layers[0].size);
    assert.ok(r.fileCount > 3000);
    assert.equal(r.created, '2024-06-01T00:00:00Z');
  });
  it('table output names the layered image config and each layer command', async () => {
    const res = await runCli(['image', 'inspect', `oci:${OCI_DIR}:layers`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /OS:\s+Gatehouse Test 1.0/);
    assert.match(res.stdout, /User:\s+1000/);
    assert.match(res.stdout, /Ports:\s+8080\/tcp/);
    assert.match(res.stdout, /COPY passwd \/etc\/passwd/);
    assert.match(res.stdout, /org.opencontainers.image.title=gatehouse-layers/);
  });
  it('the registry and daemon report the same config digest', async () => {
    const a = JSON.parse((await runCli(['image', 'inspect', '--insecure', '--format', 'json', REGISTRY_IMAGES.layers])).stdout);
    const b = JSON.parse((await runCli(['image', 'inspect', '--format', 'json', `docker-daemon:${REGISTRY_IMAGES.layers}`], { env })).stdout);
    assert.equal(a.configDigest, b.configDigest);
    assert.equal(a.fileCount, b.fileCount);
    assert.ok(testRegistry);
  });
});
