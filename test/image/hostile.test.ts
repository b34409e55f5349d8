/**
 * Hostile and broken input: each case gets a clear one-line error and exit code 2, never
 * a stack trace, never a write anywhere. Images are crafted here with real tar/gzip.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { missing, testRegistry } from '../helpers/components.js';

const registryDown = missing(await fetch(`http://${testRegistry}/v2/`).then((r) => r.ok, () => false), `local registry ${testRegistry} not running (bash .ci/setup)`);
import { buildTar, OciLayoutWriter, type ImageSpec } from '../fixtures/oci-builder.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
async function layout(spec: ImageSpec, tweak?: (dir: string, w: OciLayoutWriter, manifestDigest: string) => void): Promise<string> {
  const dir = join(work, `img${counter++}`);
  const w = new OciLayoutWriter(dir);
  const m = await w.image(spec);
  w.tag(m, 't');
  tweak?.(dir, w, m.digest);
  return `oci:${dir}:t`;
}

async function expectFailure(args: string[], pattern: RegExp, env?: Record<string, string>): Promise<void> {
  const res = await runCli(args, { env });
  assert.equal(res.code, 2, `expected exit 2, got ${res.code}; stderr: ${res.stderr}`);
  const lines = res.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${res.stderr}`);
  assert.match(lines[0]!, /^gatehouse: /);
  assert.doesNotMatch(res.stderr, /internal error|\bat .+:\d+:\d+/);
  assert.match(lines[0]!, pattern);
}

const ok = { entries: [{ name: 'etc/', type: 'directory' as const }, { name: 'etc/hello', content: 'hi' }] };

describe('hostile images', () => {
  it('a blob whose content does not match its digest', async () => {
    const ref = await layout({ layers: [ok] }, (dir) => {
      const manifest = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      const m = JSON.parse(readFileSync(join(dir, 'blobs/sha256', manifest.manifests[0].digest.slice(7)), 'utf8'));
      const layerFile = join(dir, 'blobs/sha256', m.layers[0].digest.slice(7));
      const bytes = readFileSync(layerFile);
      bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
      writeFileSync(layerFile, bytes);
    });
    await expectFailure(['image', 'ls', ref], /digest mismatch|corrupt gzip/);
  });

  it('a tampered config is caught by its digest', async () => {
    const ref = await layout({ layers: [ok] }, (dir) => {
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      const m = JSON.parse(readFileSync(join(dir, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
      const file = join(dir, 'blobs/sha256', m.config.digest.slice(7));
      writeFileSync(file, readFileSync(file, 'utf8').replace('amd64', 'AMD64'));
    });
    await expectFailure(['image', 'inspect', ref], /digest mismatch/);
  });

  it('truncated gzip', async () => {
    const ref = await layout({ layers: [{ ...ok, mangle: (b) => b.subarray(0, Math.floor(b.length / 2)) }] });
    await expectFailure(['image', 'ls', ref], /truncated gzip|unexpected end/);
  });

  it('a layer entry with ../ escaping the root', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: '../../evil', content: 'x' }] }] });
    await expectFailure(['image', 'ls', ref], /entry "\.\.\/\.\.\/evil" escapes the image root/);
  });

  it('a layer entry with an absolute path stays inside the root (as GNU tar and containerd read it)', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: '/etc/cron.d/evil', content: 'x' }] }] });
    const res = await runCli(['image', 'ls', '--format', 'json', ref]);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(JSON.parse(res.stdout).some((r: { path: string }) => r.path === '/etc/cron.d/evil'));
  });

  it('an absolute entry name whose ../ climbs above the root', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: '/../../etc/cron.d/evil', content: 'x' }] }] });
    await expectFailure(['image', 'ls', ref], /escapes the image root/);
  });

  it('a hard link with an absolute target whose ../ climbs above the root', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: 'h', type: 'link', linkname: '/../etc/shadow' }] }] });
    await expectFailure(['image', 'ls', ref], /escapes the image root/);
  });

  it('a hard link whose target escapes the root', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: 'h', type: 'link', linkname: '../../etc/shadow' }] }] });
    await expectFailure(['image', 'ls', ref], /escapes the image root/);
  });

  it('a symlink loop', async () => {
    const ref = await layout({
      layers: [{ entries: [{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }] }],
    });
    await expectFailure(['image', 'ls', ref], /symlink loop/);
  });

  it('a symlink pointing outside the root', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: 'etc/', type: 'directory' }, { name: 'etc/x', type: 'symlink', linkname: '../../../../host/etc/shadow' }] }] });
    await expectFailure(['image', 'ls', ref], /points outside the image root/);
  });

  it('a file written through a symlink that leaves the root', async () => {
    const ref = await layout({
      layers: [
        { entries: [{ name: 'escape', type: 'symlink', linkname: '../..' }] },
        { entries: [{ name: 'escape/etc/evil', content: 'x' }] },
      ],
    });
    await expectFailure(['image', 'ls', ref], /points outside the image root/);
  });

  it('a decompression bomb (expanded size cap)', async () => {
    const ref = await layout({ layers: [{ entries: [{ name: 'zeros', content: Buffer.alloc(48 * 1024 * 1024) }] }] });
    await expectFailure(['image', 'ls', '--max-expanded-size', '8M', ref], /decompression bomb/);
  });

  it('a decompression bomb (entry count cap)', async () => {
    const entries = Array.from({ length: 3000 }, (_, i) => ({ name: `f${i}`, content: '' }));
    const ref = await layout({ layers: [{ entries }] });
    await expectFailure(['image', 'ls', '--max-entries', '1000', ref], /more than 1000 entries/);
  });

  it('a manifest that is not JSON', async () => {
    const dir = join(work, 'notjson');
    const w = new OciLayoutWriter(dir);
    const bytes = Buffer.from('{this is not json');
    w.tag({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: w.writeBlob(bytes), size: bytes.length }, 't');
    await expectFailure(['image', 'ls', `oci:${dir}:t`], /is not valid JSON/);
  });

  it('a layer that is not a tar stream', async () => {
    const dir = join(work, 'nottar');
    const w = new OciLayoutWriter(dir);
    const m = await w.image({ layers: [ok] });
    const manifest = JSON.parse(readFileSync(join(dir, 'blobs/sha256', m.digest.slice(7)), 'utf8'));
    const junk = Buffer.from('this is plain text, not a tar archive at all '.repeat(40));
    const digest = w.writeBlob(junk);
    const config = JSON.parse(readFileSync(join(dir, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'));
    config.rootfs.diff_ids = [digest];
    const cfgBytes = Buffer.from(JSON.stringify(config));
    manifest.config = { ...manifest.config, digest: w.writeBlob(cfgBytes), size: cfgBytes.length };
    manifest.layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: junk.length }];
    const mb = Buffer.from(JSON.stringify(manifest));
    w.tag({ mediaType: manifest.mediaType, digest: w.writeBlob(mb), size: mb.length }, 't');
    await expectFailure(['image', 'ls', `oci:${dir}:t`], /not a valid tar stream/);
  });

  it('a diff_id that does not match the layer content', async () => {
    const ref = await layout({ layers: [{ ...ok, diffIdOverride: `sha256:${'0'.repeat(64)}` }] });
    await expectFailure(['image', 'ls', ref], /diff_id.*digest mismatch/);
  });

  it('archives that are not images', async () => {
    const tarFile = join(work, 'plain.tar');
    writeFileSync(tarFile, await buildTar([{ name: 'readme.txt', content: 'hello' }]));
    await expectFailure(['image', 'ls', `docker-archive:${tarFile}`], /not an image archive \(no manifest\.json\)/);
    const junkFile = join(work, 'junk.bin');
    writeFileSync(junkFile, Buffer.alloc(4096, 0x41));
    await expectFailure(['image', 'ls', `docker-archive:${junkFile}`], /not a tar archive/);
    await expectFailure(['image', 'ls', `docker-archive:${join(work, 'missing.tar')}`], /cannot read archive|no such file/i);
    await expectFailure(['image', 'ls', `oci:${work}`], /not an OCI image layout/);
  });

  it('nothing is written outside the work directory', async () => {
    const target = join(tmpdir(), 'gatehouse-pwned');
    const ref = await layout({ layers: [{ entries: [{ name: '../../../../tmp/gatehouse-pwned', content: 'x' }] }] });
    const res = await runCli(['image', 'ls', ref], { cwd: work });
    assert.equal(res.code, 2);
    assert.ok(!existsSync(target), `${target} was created`);
    assert.deepEqual(readdirSync(work).filter((n) => !n.startsWith('img') && !n.startsWith('not') && !n.endsWith('.tar') && !n.endsWith('.bin')), []);
  });
});

describe('registries that answer errors', () => {
  let server: Server;
  let port = 0;
  const hits = new Map<string, number>();
  before(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      hits.set(url, (hits.get(url) ?? 0) + 1);
      if (url === '/v2/') return res.writeHead(200).end('{}');
      const flaky = /^\/v2\/flaky\/(.*)$/.exec(url);
      if (flaky) {
        // Fails the first two attempts of each request, then relays the real registry.
        if ((hits.get(url) ?? 0) <= 2) return res.writeHead(503).end();
        void fetch(`http://${testRegistry}/v2/gatehouse-test/${flaky[1]}`, { headers: { accept: String(req.headers.accept ?? '') } }).then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' });
          res.end(Buffer.from(await r.arrayBuffer()));
        });
        return;
      }
      const status = Number(/\/v2\/status(\d+)\//.exec(url)?.[1] ?? 404);
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '0' } : {}) });
      res.end(JSON.stringify({ errors: [{ code: status === 404 ? 'MANIFEST_UNKNOWN' : 'ERR', message: `status ${status}` }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => server.close());

  const env = { GATEHOUSE_RETRY_BASE_MS: '5' };
  it('401 without a challenge', async () => {
    await expectFailure(['image', 'ls', '--insecure', `127.0.0.1:${port}/status401/app:1`], /401/, env);
  });
  it('404', async () => {
    await expectFailure(['image', 'ls', '--insecure', `127.0.0.1:${port}/status404/app:1`], /not found \(HTTP 404\).*MANIFEST_UNKNOWN/, env);
  });
  it('429 is retried, then reported', async () => {
    await expectFailure(['image', 'ls', '--insecure', `127.0.0.1:${port}/status429/app:1`], /too many requests \(HTTP 429\)/, env);
    assert.equal(hits.get('/v2/status429/app/manifests/1'), 5);
  });
  it('500 is retried, then reported', async () => {
    await expectFailure(['image', 'ls', '--insecure', `127.0.0.1:${port}/status500/app:1`], /HTTP 500/, env);
    assert.equal(hits.get('/v2/status500/app/manifests/1'), 5);
  });
  it('transient 503s are retried until the registry answers', { skip: registryDown }, async () => {
    const res = await runCli(['image', 'ls', '--insecure', '--format', 'json', `127.0.0.1:${port}/flaky/layers:v1`], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(JSON.parse(res.stdout).some((r: { path: string }) => r.path === '/etc/passwd'));
    assert.equal(hits.get('/v2/flaky/layers/manifests/v1'), 3);
  });

  it('a registry that is down', async () => {
    await expectFailure(['image', 'ls', '--insecure', '127.0.0.1:9/app:1'], /failed: .*ECONNREFUSED|connect/i, env);
  });
});
