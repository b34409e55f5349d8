/**
 * A Go binary built in CI with `go build` against a module version the Go vulndb lists as
 * vulnerable (golang.org/x/text v0.14.0, see .ci/setup.d/55-inventory-fixtures.sh): the
 * scan must report exactly the vulndb advisories whose ranges hold that version — computed
 * here from the raw records with `go`'s own version order (the advisory ranges are plain
 * semver introduced/fixed pairs) — and none for the clean module (google/uuid v1.6.0).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import semver from 'semver';
import { runCli } from '../helpers/cli.js';
import { cachedPath, missing } from '../helpers/components.js';
import { vulndataDir } from './helpers.js';

const binary = cachedPath('inventory', 'root', 'usr', 'local', 'bin', 'goapp');
const versionM = cachedPath('inventory', 'expected', 'goapp.version-m.txt');
const skip = missing(existsSync(binary) && existsSync(versionM), 'Go test binary not built (bash .ci/setup.d/55-inventory-fixtures.sh)');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-goscan-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface OsvRecord {
  id: string;
  withdrawn?: string;
  affected: { package: { ecosystem: string; name: string }; ranges?: { type: string; events: Record<string, string>[] }[] }[];
}

/** Advisories whose SEMVER ranges hold `version` of `module`, straight from the records. */
function expectedIds(module: string, version: string): string[] {
  const dir = join(vulndataDir, 'go-vulndb', 'data', 'osv');
  const v = version.replace(/^v/, '');
  const ids: string[] = [];
  for (const file of readdirSync(dir)) {
    const rec = JSON.parse(readFileSync(join(dir, file), 'utf8')) as OsvRecord;
    if (rec.withdrawn) continue;
    const hit = rec.affected.some(
      (a) =>
        a.package.name === module &&
        (a.ranges ?? []).some((r) => {
          let inRange = false;
          const events = [...r.events].sort((x, y) => semver.compare(Object.values(x)[0] === '0' ? '0.0.0' : Object.values(x)[0]!, Object.values(y)[0] === '0' ? '0.0.0' : Object.values(y)[0]!));
          for (const e of events) {
            if (e.introduced !== undefined && semver.gte(v, e.introduced === '0' ? '0.0.0' : e.introduced)) inRange = true;
            if (e.fixed !== undefined && semver.gte(v, e.fixed)) inRange = false;
          }
          return inRange;
        }),
    );
    if (hit) ids.push(rec.id);
  }
  return ids.sort();
}

describe('scan of a Go binary built against a vulnerable module', { skip }, () => {
  const root = join(work, 'root');
  const db = join(work, 'vuln.db');
  const deps = new Map<string, string>();
  before(async () => {
    for (const line of readFileSync(versionM, 'utf8').split('\n')) {
      const m = /^\s*dep\s+(\S+)\s+(\S+)/.exec(line);
      if (m) deps.set(m[1]!, m[2]!);
    }
    mkdirSync(join(root, 'app'), { recursive: true });
    copyFileSync(binary, join(root, 'app', 'goapp'));
    const imp = await runCli(['db', 'import', '--db', db, join(vulndataDir, 'go-vulndb', 'data', 'osv')]);
    assert.equal(imp.code, 0, imp.stderr);
  });

  it('reports exactly the advisories of each module version `go version -m` lists', async () => {
    assert.equal(deps.get('golang.org/x/text'), 'v0.14.0');
    const res = await runCli(['fs', 'scan', '--db', db, '--db-max-age', '100000', '--format', 'json', root]);
    assert.equal(res.code, 0, res.stderr);
    const findings = JSON.parse(res.stdout).findings as { id: string; data: { package: string; installedVersion: string } }[];
    for (const [module, version] of deps) {
      const got = findings.filter((f) => f.data.package === module).map((f) => f.id).sort();
      assert.deepEqual(got, expectedIds(module, version), `${module}@${version}`);
    }
    assert.ok(expectedIds('golang.org/x/text', 'v0.14.0').length > 0, 'the fixture must hold a vulnerable module');
    for (const f of findings) assert.ok(deps.has(f.data.package) || f.data.package === 'stdlib' || f.data.package === 'toolchain', `unexpected package ${f.data.package}`);
  });
});
