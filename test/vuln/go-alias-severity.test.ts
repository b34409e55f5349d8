/**
 * Go vulndb records carry no severity and name the CVE only as an alias (issue 24 item 6).
 * Real inputs: Debian bookworm's /usr/bin/podman (built with go1.19.8, installed by
 * .ci/setup.d/20-podman.sh), the Go vulndb record GO-2023-2102 from ../shared/vulndata
 * (HTTP/2 rapid reset in stdlib, aliases CVE-2023-39325 and GHSA-4374-p667-p6c8), and the
 * reviewed GitHub advisory GHSA-4374-p667-p6c8 copied verbatim from github/advisory-database
 * (test/vuln/ghsa/; CVSS 3.1 AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H = 7.5 HIGH). The scan must
 * show the CVE beside the GO id and take HIGH from the GHSA record — and say UNKNOWN when
 * the DB holds only the Go record, so the severity really comes from the alias.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { repoRoot, vulndataDir } from './helpers.js';

const podman = '/usr/bin/podman';
const goRecord = join(vulndataDir, 'go-vulndb', 'data', 'osv', 'GO-2023-2102.json');
const ghsaRecord = join(repoRoot, 'test', 'vuln', 'ghsa', 'GHSA-4374-p667-p6c8.json');
const skip = missing(existsSync(podman) && existsSync(goRecord), 'Debian podman (bash .ci/setup.d/20-podman.sh) or ../shared/vulndata/go-vulndb');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-goalias-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface JsonFinding {
  id: string;
  severity: string;
  title: string;
  references: string[];
  data: { package: string; installedVersion: string; cve?: string; aliases: string[]; severitySource: string };
}

async function scan(db: string, format: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(['fs', 'scan', '--db', db, '--db-max-age', '100000', '--format', format, join(work, 'root')]);
}

describe('Go vulndb finding with a CVE alias the DB also holds as a GHSA record', { skip }, () => {
  const both = join(work, 'both.db');
  const goOnly = join(work, 'go-only.db');
  before(async () => {
    mkdirSync(join(work, 'root', 'usr', 'bin'), { recursive: true });
    copyFileSync(podman, join(work, 'root', 'usr', 'bin', 'podman'));
    mkdirSync(join(work, 'feed'));
    copyFileSync(goRecord, join(work, 'feed', 'GO-2023-2102.json'));
    copyFileSync(ghsaRecord, join(work, 'feed', 'GHSA-4374-p667-p6c8.json'));
    for (const [db, src] of [[both, join(work, 'feed')], [goOnly, goRecord]] as const) {
      const r = await runCli(['db', 'import', '--db', db, src]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it('keeps the GO id, shows the CVE alias and takes HIGH from the GHSA record', async () => {
    const res = await scan(both, 'json');
    assert.equal(res.code, 0, res.stderr);
    const findings = (JSON.parse(res.stdout).findings as JsonFinding[]).filter((f) => f.id === 'GO-2023-2102');
    assert.equal(findings.length, 1, res.stdout);
    const f = findings[0]!;
    assert.equal(f.data.package, 'stdlib');
    assert.match(f.data.installedVersion, /^1\.19\./, 'bookworm podman is built with go1.19');
    assert.equal(f.data.cve, 'CVE-2023-39325');
    assert.match(f.title, /^GO-2023-2102 \(CVE-2023-39325\): stdlib /);
    assert.ok(f.references.includes('https://nvd.nist.gov/vuln/detail/CVE-2023-39325'), f.references.join(' '));
    assert.equal(f.severity, 'HIGH');
    assert.equal(f.data.severitySource, 'CVSS 3.1 (GHSA-4374-p667-p6c8)');
    // The GHSA record is about golang.org/x/net, which podman's build info does not list: no second finding.
    assert.deepEqual((JSON.parse(res.stdout).findings as JsonFinding[]).map((x) => x.id), ['GO-2023-2102']);
  });

  it('shows the alias in the table row', async () => {
    const res = await scan(both, 'table');
    assert.equal(res.code, 0, res.stderr);
    const row = res.stdout.split('\n').find((l) => l.startsWith('stdlib '));
    assert.ok(row, res.stdout);
    assert.match(row, /GO-2023-2102 \(CVE-2023-39325\)\s+HIGH\s/);
  });

  it('is UNKNOWN when the DB holds only the Go record (no severity of its own)', async () => {
    const res = await scan(goOnly, 'json');
    assert.equal(res.code, 0, res.stderr);
    const f = (JSON.parse(res.stdout).findings as JsonFinding[]).find((x) => x.id === 'GO-2023-2102');
    assert.ok(f, res.stdout);
    assert.equal(f.severity, 'UNKNOWN');
    assert.equal(f.data.cve, 'CVE-2023-39325');
  });
});
