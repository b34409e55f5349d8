/**
 * Air-gapped DB: `db export` / `db import FILE` and `db push` / `db pull` as an OCI artefact
 * through the local Distribution registry, on a DB built from the real Alpine secdb
 * (v3.10 main and community, ../shared/vulndata/alpine-secdb).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand, missing, testRegistry } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { fileDigest } from '../../src/vuln/db-archive.js';
import { VULNDB_CONFIG_TYPE, VULNDB_LAYER_TYPE } from '../../src/vuln/db-oci.js';
import { VulnDb } from '../../src/vuln/db.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { vulndataDir } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-airgap-'));
after(() => rmSync(work, { recursive: true, force: true }));
const secdb = (repo: string): string => join(vulndataDir, 'alpine-secdb', 'v3.10', `${repo}.yaml`);
const mainDb = join(work, 'main.db');
const communityDb = join(work, 'community.db');

function knownAdvisory(dbPath: string): string[] {
  const db = VulnDb.open(dbPath, { readonly: true });
  try {
    return db.byAlias('CVE-2019-10206').map((a) => `${a.source} ${a.id} ${a.affected.map((x) => `${x.ecosystem}/${x.name}`).join(',')}`);
  } finally {
    db.close();
  }
}

/** One line on stderr, exit 2, and the old DB still there with the same digest. */
async function refused(args: string[], dbPath: string, pattern: RegExp): Promise<void> {
  const before = await fileDigest(dbPath);
  const r = await runCli(args);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.deepEqual(await fileDigest(dbPath), before);
  assert.equal(knownAdvisory(dbPath).length, 1);
}

before(async () => {
  for (const [db, repo] of [[mainDb, 'main'], [communityDb, 'community']] as const) {
    const r = await runCli(['db', 'import', secdb(repo), '--db', db]);
    assert.equal(r.code, 0, r.stderr);
  }
});

describe('db export / db import FILE', () => {
  test('round trip keeps the advisories; the header carries digest, schema and freshness', async () => {
    const file = join(work, 'vulndb.export');
    const e = await runCli(['db', 'export', file, '--db', mainDb]);
    assert.equal(e.code, 0, e.stderr);
    const text = readFileSync(file);
    const nl = text.indexOf(0x0a, text.indexOf(0x0a) + 1);
    assert.equal(text.toString('latin1', 0, 19), 'GATEHOUSE-VULNDB/1\n');
    const meta = JSON.parse(text.toString('utf8', 19, nl)) as { digest: string; size: number; schemaVersion: number; advisories: number; sources: { name: string; updatedAt: string }[] };
    assert.equal(meta.schemaVersion, 1);
    assert.equal(meta.size, text.length - nl - 1);
    assert.deepEqual(meta.sources.map((s) => s.name), ['alpine-secdb:v3.10/main']);
    assert.ok(meta.advisories > 1000);

    const imported = join(work, 'imported.db');
    const i = await runCli(['db', 'import', file, '--db', imported]);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /^replaced .*imported\.db with .*: \d+ advisories, sha256:/);
    assert.equal((await fileDigest(imported)).digest, meta.digest);
    assert.deepEqual(knownAdvisory(imported), knownAdvisory(mainDb));
    assert.equal(knownAdvisory(imported).length, 1);

    // Importing over an existing DB replaces it (no merge), and advisory files still import as before.
    const over = join(work, 'over.db');
    copyFileSync(communityDb, over);
    assert.equal((await runCli(['db', 'import', file, '--db', over])).code, 0);
    assert.equal((await fileDigest(over)).digest, meta.digest);
    const again = await runCli(['db', 'import', secdb('community'), '--db', over]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^imported .*community\.yaml: \d+ added/);
  });

  test('a tampered, truncated or foreign file is refused with one line and the old DB stays', async () => {
    const file = join(work, 'good.export');
    assert.equal((await runCli(['db', 'export', file, '--db', mainDb])).code, 0);
    const target = join(work, 'target.db');
    copyFileSync(mainDb, target);
    const good = readFileSync(file);

    const flipped = Buffer.from(good);
    flipped[flipped.length - 100] ^= 0xff;
    writeFileSync(join(work, 'flipped.export'), flipped);
    await refused(['db', 'import', join(work, 'flipped.export'), '--db', target], target, /digest mismatch .*the old database is unchanged/);

    writeFileSync(join(work, 'short.export'), good.subarray(0, good.length - 4096));
    await refused(['db', 'import', join(work, 'short.export'), '--db', target], target, /size mismatch/);

    writeFileSync(join(work, 'noheader.export'), good.subarray(0, 40));
    await refused(['db', 'import', join(work, 'noheader.export'), '--db', target], target, /not a Gatehouse DB export/);

    // A SQLite file that is not a Gatehouse DB (sqlite3's own, schema 0).
    const foreign = join(work, 'foreign.sqlite');
    spawnSync(process.execPath, ['-e', `const D=require('better-sqlite3');const d=new D(${JSON.stringify(foreign)});d.exec('CREATE TABLE t(x)');d.close()`], { cwd: process.cwd() });
    assert.ok(existsSync(foreign));
    await refused(['db', 'import', foreign, '--db', target], target, /unsupported database schema 0/);

    const leftovers = spawnSync('sh', ['-c', `ls ${work} | grep -c '\\.tmp$' || true`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(leftovers, '0');
  });
});

const registryUp = (): boolean => spawnSync('curl', ['-sf', '-o', '/dev/null', `http://${testRegistry}/v2/`], { stdio: 'ignore' }).status === 0;

describe('db push / db pull (OCI artefact)', { skip: missing(registryUp() && hasCommand('skopeo'), `needs the registry at ${testRegistry} and skopeo (.ci/setup.d/30-registry.sh, 10-packages.sh)`) }, () => {
  const repo = `gatehouse-test/vulndb-${randomBytes(4).toString('hex')}`;

  test('push → pull into another DB gives the identical DB; skopeo reads the artefact manifest', async () => {
    const p = await runCli(['db', 'push', `${testRegistry}/${repo}:v1`, '--db', mainDb]);
    assert.equal(p.code, 0, p.stderr);
    const dbDigest = /(sha256:[0-9a-f]{64})\n$/.exec(p.stdout)?.[1];
    assert.ok(dbDigest, p.stdout);

    const sk = spawnSync('skopeo', ['inspect', '--raw', `docker://${testRegistry}/${repo}:v1`, '--tls-verify=false'], { encoding: 'utf8' });
    assert.equal(sk.status, 0, sk.stderr);
    const manifest = JSON.parse(sk.stdout) as { mediaType: string; artifactType: string; config: { mediaType: string }; layers: { mediaType: string }[] };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.artifactType, VULNDB_CONFIG_TYPE);
    assert.equal(manifest.config.mediaType, VULNDB_CONFIG_TYPE);
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), [VULNDB_LAYER_TYPE]);

    const pulled = join(work, 'pulled.db');
    copyFileSync(communityDb, pulled);
    const l = await runCli(['db', 'pull', `${testRegistry}/${repo}:v1`, '--db', pulled]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal((await fileDigest(pulled)).digest, dbDigest);
    assert.deepEqual(knownAdvisory(pulled), knownAdvisory(mainDb));
    const s = await runCli(['db', 'status', '--db', pulled, '--format', 'json']);
    assert.deepEqual((JSON.parse(s.stdout) as { sources: { name: string }[] }).sources.map((x) => x.name), ['alpine-secdb:v3.10/main']);
  });

  test('a swapped layer, or an artefact that is not a DB, is refused with one line and the old DB stays', async () => {
    assert.equal((await runCli(['db', 'push', `${testRegistry}/${repo}:main`, '--db', mainDb])).code, 0);
    assert.equal((await runCli(['db', 'push', `${testRegistry}/${repo}:community`, '--db', communityDb])).code, 0);
    const store = new RegistryStore(testRegistry);
    try {
      // The main DB's config (its digest) with the community DB's layer: a tampered blob.
      const main = JSON.parse((await store.getManifest(repo, 'main')).bytes.toString('utf8')) as { layers: unknown[] };
      const community = JSON.parse((await store.getManifest(repo, 'community')).bytes.toString('utf8')) as { layers: unknown[] };
      main.layers = community.layers;
      await store.putManifest(repo, 'swapped', Buffer.from(JSON.stringify(main)), 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      await store.close();
    }
    const target = join(work, 'pull-target.db');
    copyFileSync(mainDb, target);
    await refused(['db', 'pull', `${testRegistry}/${repo}:swapped`, '--db', target], target, /(size|digest) mismatch .*the old database is unchanged/);

    // An ordinary image is not a DB artefact.
    const img = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: '', size: 0 }, layers: [] });
    const s2 = new RegistryStore(testRegistry);
    try {
      const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
      const d = await s2.putBlob(repo, cfg);
      const m = JSON.parse(img) as { config: { digest: string; size: number } };
      m.config.digest = d;
      m.config.size = cfg.length;
      await s2.putManifest(repo, 'image', Buffer.from(JSON.stringify(m)), 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      await s2.close();
    }
    await refused(['db', 'pull', `${testRegistry}/${repo}:image`, '--db', target], target, /not a Gatehouse vulnerability DB artefact/);
  });
});
