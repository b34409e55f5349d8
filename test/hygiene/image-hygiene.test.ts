/**
 * `gatehouse image scan` reports the image's own hygiene beside its vulnerabilities:
 * root user, secrets in env and files (never printing them), package managers and
 * attacker tools, age, and layers wasting space on files later deleted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { OciLayoutWriter } from '../fixtures/oci-builder.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-hygiene-'));
after(() => rmSync(work, { recursive: true, force: true }));

const AWS_KEY_ID = 'AKIA' + 'Q3EGRV7XBN5HTWSZ';
const PRIVATE_KEY = ['-----BEGIN OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW', '-----END OPENSSH PRIVATE KEY-----'].join('\n');
const GITHUB_TOKEN = 'ghp_' + 'Xq2LkR7mN4pZ8sT1vW6yB3cD9fH5jK0aE2gU';
const DB_PASSWORD = 'hunter2-do-not-print';

interface Finding {
  id: string;
  kind: string;
  severity: string;
  title: string;
  resource: { image?: { path?: string; layer?: number } };
}

describe('image hygiene in image scan', () => {
  let dirty = '';
  let clean = '';
  let db = '';
  before(async () => {
    const w = new OciLayoutWriter(join(work, 'oci'));
    const bad = await w.image({
      created: '2020-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/bin:/bin', `DB_PASSWORD=${DB_PASSWORD}`, `UPLOAD_KEY=${AWS_KEY_ID}`, 'EMPTY_TOKEN='] },
      layers: [
        {
          entries: [
            { name: 'usr/bin/curl', content: 'ELF', mode: 0o755 },
            { name: 'usr/bin/apt-get', content: 'ELF', mode: 0o755 },
            { name: 'root/.ssh/id_ed25519', content: `${PRIVATE_KEY}\n`, mode: 0o600 },
            { name: 'usr/share/doc/example/key.pem', content: `${PRIVATE_KEY}\n` },
            // Places the secret scan leaves alone, as Trivy's does: vendored dependencies,
            // VCS metadata, lockfiles, media. The same token in the app's own file is found.
            { name: 'app/node_modules/some-lib/test/key.js', content: `const t = "${GITHUB_TOKEN}";\n` },
            { name: 'opt/venv/lib/python3.11/site-packages/boto3/examples.py', content: `token = "${GITHUB_TOKEN}"\n` },
            { name: 'app/.git/config', content: `url = https://x:${GITHUB_TOKEN}@example.com/r\n` },
            { name: 'app/package-lock.json', content: `{"token": "${GITHUB_TOKEN}"}\n` },
            { name: 'app/logo.SVG', content: `<svg>${GITHUB_TOKEN}</svg>\n` },
            { name: 'app/settings.py', content: `\n\nDEPLOY_TOKEN = "${GITHUB_TOKEN}"\n` },
            { name: 'tmp/build.tar', content: Buffer.alloc(2 * 1024 * 1024, 3) },
          ],
        },
        { createdBy: 'RUN rm /tmp/build.tar', entries: [{ name: 'tmp/.wh.build.tar', content: '' }] },
      ],
    });
    w.tag(bad, 'dirty');
    const good = await w.image({
      created: new Date().toISOString(),
      config: { User: '10001', Env: ['PATH=/usr/bin'] },
      layers: [{ entries: [{ name: 'app/server', content: 'ELF', mode: 0o755 }, { name: 'app/config.json', content: '{"port": 8080}' }] }],
    });
    w.tag(good, 'clean');
    dirty = `oci:${w.dir}:dirty`;
    clean = `oci:${w.dir}:clean`;
    const osv = join(work, 'osv.json');
    writeFileSync(osv, JSON.stringify({ id: 'GHSA-test-0000-0000', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'nothing-here' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] }));
    db = join(work, 'vuln.db');
    const imp = await runCli(['db', 'import', '--db', db, osv]);
    assert.equal(imp.code, 0, imp.stderr);
  });

  async function scan(ref: string, ...extra: string[]): Promise<{ findings: Finding[]; stdout: string; code: number }> {
    const res = await runCli(['image', 'scan', '--db', db, '--db-max-age', '100000', '--format', 'json', ...extra, ref]);
    assert.ok(res.code === 0 || res.code === 1, res.stderr);
    return { findings: (JSON.parse(res.stdout) as { findings: Finding[] }).findings, stdout: res.stdout + res.stderr, code: res.code };
  }

  it('reports each hygiene problem of a dirty image, and never the secrets themselves', async () => {
    const { findings, stdout } = await scan(dirty);
    const ids = findings.map((f) => `${f.id}${f.resource.image?.path ? ` ${f.resource.image.path}` : ''}`).sort();
    assert.deepEqual(ids, [
      'GH-HYG-AGE',
      'GH-HYG-ATTACKER-TOOL',
      'GH-HYG-PACKAGE-MANAGER',
      'GH-HYG-ROOT',
      'GH-HYG-WASTE',
      'GH-SECRET-aws-access-key-id',
      'GH-SECRET-github-token /app/settings.py',
      'GH-SECRET-private-key /root/.ssh/id_ed25519',
      'GH-SECRET-secret-in-env',
    ]);
    const waste = findings.find((f) => f.id === 'GH-HYG-WASTE')!;
    assert.equal(waste.resource.image?.layer, 0);
    assert.match(waste.title, /2097152 bytes/);
    assert.match(findings.find((f) => f.id === 'GH-SECRET-secret-in-env')!.title, /DB_PASSWORD/);
    assert.match(findings.find((f) => f.id === 'GH-SECRET-github-token')!.title, /line 3/);
    for (const secret of [DB_PASSWORD, AWS_KEY_ID, GITHUB_TOKEN, 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE']) assert.ok(!stdout.includes(secret), `output leaks ${secret}`);
  });

  it('a clean image has no hygiene findings', async () => {
    const { findings } = await scan(clean);
    assert.deepEqual(findings, []);
  });

  it('--scanners and --severity narrow what is reported; --exit-code gates on what remains', async () => {
    assert.deepEqual((await scan(dirty, '--scanners', 'vuln')).findings, []);
    const secrets = (await scan(dirty, '--scanners', 'secret')).findings;
    assert.ok(secrets.length === 4 && secrets.every((f) => f.kind === 'secret'));
    const critical = await scan(dirty, '--severity', 'CRITICAL', '--exit-code', '1');
    assert.deepEqual(critical.findings.map((f) => f.id).sort(), ['GH-SECRET-aws-access-key-id', 'GH-SECRET-github-token']);
    assert.equal(critical.code, 1);
    const bad = await runCli(['image', 'scan', '--db', db, '--scanners', 'vuln,magic', dirty]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown scanner "magic"/);
  });
});
