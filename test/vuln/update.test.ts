/** `db update` against feeds served by a local HTTP server on 127.0.0.1. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { humanBytes } from '../../src/cli/download-progress.js';
import { VulnDb } from '../../src/vuln/db.js';
import { defaultFeeds, updateDb } from '../../src/vuln/update.js';
import { osvDebianRecord, trackerJson } from './fixtures.js';
import { vulndataDir } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-update-'));
const files: Record<string, { body: Buffer; etag: string; type: string }> = {
  '/Debian/dsa.json': { body: Buffer.from(JSON.stringify(osvDebianRecord())), etag: '"dsa-1"', type: 'application/json' },
  '/v3.10/main.json': {
    body: Buffer.from(JSON.stringify(parseYaml(readFileSync(join(vulndataDir, 'alpine-secdb', 'v3.10', 'main.yaml'), 'utf8')))),
    etag: '"secdb-1"',
    type: 'application/json',
  },
  '/tracker/data/json': { body: Buffer.from(JSON.stringify(trackerJson())), etag: '"tracker-1"', type: 'application/json' },
  '/broken.json': { body: Buffer.from('{"id":'), etag: '"b"', type: 'application/json' },
};
const requests: { url: string; ifNoneMatch?: string }[] = [];
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url!, ifNoneMatch: req.headers['if-none-match'] });
    const f = files[req.url!];
    if (!f) return void res.writeHead(404).end('not found');
    if (req.headers['if-none-match'] === f.etag) return void res.writeHead(304).end();
    res.writeHead(200, { etag: f.etag, 'content-type': f.type, 'content-length': f.body.length, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' }).end(f.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(() => {
  server.close();
  rmSync(work, { recursive: true, force: true });
});

describe('db update', () => {
  test('downloads and imports every feed; unchanged feeds are skipped by ETag; atomic on failure', async () => {
    const dbPath = join(work, 'vuln.db');
    const feeds = [`${base}/Debian/dsa.json`, `${base}/v3.10/main.json`, `${base}/tracker/data/json`];
    const first = await updateDb(dbPath, { feeds });
    assert.deepEqual(first.map((r) => r.status), ['updated', 'updated', 'updated']);
    let db = VulnDb.open(dbPath, { readonly: true });
    const before = db.status();
    assert.deepEqual(
      before.sources.filter((s) => !s.name.startsWith('feed:')).map((s) => s.name),
      ['alpine-secdb:v3.10/main', 'debian-tracker', 'osv'],
    );
    assert.equal(db.candidates('Debian:12', 'zlib').length, 1);
    assert.equal(db.candidates('Alpine:v3.10', 'openssl').length, 6);
    db.close();

    requests.length = 0;
    const second = await updateDb(dbPath, { feeds });
    assert.deepEqual(second.map((r) => r.status), ['not-modified', 'not-modified', 'not-modified']);
    assert.deepEqual(requests.map((r) => r.ifNoneMatch), ['"dsa-1"', '"secdb-1"', '"tracker-1"']);

    // A feed that changed is downloaded again; the record is replaced because it is newer.
    files['/Debian/dsa.json'] = { body: Buffer.from(JSON.stringify(osvDebianRecord('2024-06-01T00:00:00Z', 'changed'))), etag: '"dsa-2"', type: 'application/json' };
    const third = await updateDb(dbPath, { feeds });
    assert.deepEqual(third.map((r) => r.status), ['updated', 'not-modified', 'not-modified']);
    assert.equal(third[0]!.stats!.updated, 1);

    // Failing feeds (404, unreadable content, nothing listening) leave the old DB as it was.
    for (const bad of [`${base}/missing.json`, `${base}/broken.json`, 'http://127.0.0.1:9/feed.json']) {
      await assert.rejects(updateDb(dbPath, { feeds: [`${base}/Debian/dsa.json`, bad] }), /HTTP 404|cannot parse|cannot download/);
      db = VulnDb.open(dbPath, { readonly: true });
      assert.equal(db.status().advisories, before.advisories);
      assert.equal(db.get('osv', 'DSA-9999-1')?.summary, 'changed');
      db.close();
    }
    assert.deepEqual(readdirSync(work).filter((f) => f.includes('.update-')), [], 'temporary files removed');
  });

  test('default feeds come from the data file: OSV buckets, Alpine secdb, Debian tracker', () => {
    const feeds = defaultFeeds();
    assert.ok(feeds.includes('https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip'));
    assert.ok(feeds.some((f) => /secdb\.alpinelinux\.org\/v3\.\d+\/main\.json$/.test(f)));
    assert.ok(feeds.includes('https://security-tracker.debian.org/tracker/data/json'));
  });

  test('the CLI reports the update and exits 2 with one line on failure', async () => {
    const dbPath = join(work, 'cli.db');
    const ok = await runCli(['db', 'update', '--db', dbPath, '--feed', `${base}/tracker/data/json`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 feeds imported, 0 not modified/);
    const fail = await runCli(['db', 'update', '--db', dbPath, '--feed', `${base}/missing.json`]);
    assert.equal(fail.code, 2);
    assert.match(fail.stderr, /gatehouse: cannot download .*missing.json: HTTP 404/);
    assert.ok(existsSync(dbPath));
  });

  test('download progress: byte counts to the full size; a bar on a terminal, plain lines elsewhere', async () => {
    const seen: [number, number | undefined][] = [];
    await updateDb(join(work, 'progress.db'), { feeds: [`${base}/tracker/data/json`], onBytes: (_u, n, total) => seen.push([n, total]) });
    const size = files['/tracker/data/json']!.body.length;
    assert.deepEqual(seen[0], [0, size]);
    assert.deepEqual(seen.at(-1), [size, size]);
    assert.ok(seen.every(([n], i) => i === 0 || n >= seen[i - 1]![0]), 'byte counts never go back');

    const args = ['db', 'update', '--db', join(work, 'progress-cli.db'), '--feed', `${base}/tracker/data/json`];
    const piped = await runCli(args);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, /downloading/);
    assert.match(piped.stderr, /^download: .*tracker\/data\/json\nimport: .*\ndone: .*\(\d+ added/m);
    // A pseudo-terminal (script(1)) gets the bar; CI=true would turn it off like every bar.
    rmSync(join(work, 'progress-cli.db'));
    const env = { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } as Record<string, string | undefined>;
    delete env.CI;
    const cmd = [process.execPath, join(process.cwd(), 'bin/gatehouse.mjs'), ...args].join(' ');
    // Asynchronously: the feed server runs in this process.
    const onTty = await promisify(execFile)('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8' });
    assert.match(onTty.stdout, new RegExp(`downloading data/json \\[[^\\]]*\\] 100% \\| ${humanBytes(size)} of ${humanBytes(size)}`));
    assert.match(onTty.stdout, /done: .*tracker\/data\/json/);
    assert.match(onTty.stdout, /1 feeds imported/);
  });
});

test('an interrupted download is resumed with Range/If-Range; the old database stays usable meanwhile', async () => {
  const dir = mkdtempSync(join(work, 'resume-'));
  const dbPath = join(dir, 'vuln.db');
  // A tracker document padded to ~2 MiB (JSON allows trailing whitespace) so the cut lands mid-body.
  const body = Buffer.concat([Buffer.from(JSON.stringify(trackerJson())), Buffer.alloc(2 << 20, 0x20)]);
  const etag = '"big-1"';
  const seen: { range?: string; ifRange?: string; sent: number }[] = [];
  let cutNext = true;
  const big = createServer((req, res) => {
    const entry: { range?: string; ifRange?: string; sent: number } = { range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, sent: 0 };
    seen.push(entry);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && req.headers['if-range'] === etag) {
      const start = Number(m[1]);
      entry.sent = body.length - start;
      res.writeHead(206, { etag, 'content-type': 'application/json', 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start }).end(body.subarray(start));
      return;
    }
    res.writeHead(200, { etag, 'content-type': 'application/json', 'content-length': body.length });
    if (cutNext) {
      cutNext = false;
      entry.sent = body.length >> 1;
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 50));
    } else {
      entry.sent = body.length;
      res.end(body);
    }
  });
  await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
  const addr = big.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/tracker/data/json`;
  try {
    // An existing database from an earlier update, which must survive the failed one.
    await updateDb(dbPath, { feeds: [`${base}/Debian/dsa.json`] });
    await assert.rejects(updateDb(dbPath, { feeds: [url] }), /download of .* interrupted after \d+ bytes \(the next update resumes it\)/);
    const db = VulnDb.open(dbPath, { readonly: true });
    assert.equal(db.candidates('Debian:12', 'zlib').length, 1, 'the previous database is intact');
    assert.ok(!db.status().sources.some((s) => s.name === 'debian-tracker'));
    db.close();

    const second = await updateDb(dbPath, { feeds: [url] });
    assert.deepEqual(second.map((r) => r.status), ['updated']);
    assert.equal(seen.length, 2);
    const start = Number(/^bytes=(\d+)-$/.exec(seen[1]!.range ?? '')?.[1]);
    assert.ok(start > 0 && start <= body.length >> 1, `resumed from byte ${seen[1]!.range}`);
    assert.equal(seen[1]!.ifRange, etag);
    assert.equal(seen[1]!.sent, body.length - start, 'only the rest was sent');
    const after = VulnDb.open(dbPath, { readonly: true });
    assert.ok(after.status().sources.some((s) => s.name === 'debian-tracker'), 'the resumed tracker feed was imported');
    after.close();
    assert.deepEqual(readdirSync(`${dbPath}.downloads`), [], 'nothing left behind once imported');
  } finally {
    big.close();
  }
});
