/**
 * osv-scanner (google/osv-scanner v2.6.0), the peer for `npm run bench:scan`: run offline on
 * the same image with the same advisories. Its local database is built here from the shared
 * advisories (Go vulndb and PyPA, as per-ecosystem all.zip files in the layout osv-scanner
 * reads from $OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY/osv-scalibr/<ecosystem>/); the image is handed to it as a
 * docker-archive (skopeo copy), which is what `osv-scanner scan image --archive` reads.
 * The binary is built by bench/build-osv-scanner.sh (not part of CI: only this bench uses it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { cachedPath } from '../test/helpers/components.js';

export const osvScanner = cachedPath('bin', 'osv-scanner');

/** The local OSV database osv-scanner reads offline, built from the shared advisories. */
export function buildOsvDb(work: string, vulndata: string): string {
  const root = join(work, 'osv-db');
  const go = join(root, 'osv-scalibr', 'Go');
  const pypi = join(root, 'osv-scalibr', 'PyPI');
  const staging = join(work, 'osv-staging');
  for (const d of [go, pypi, join(staging, 'go'), join(staging, 'pypi')]) mkdirSync(d, { recursive: true });
  for (const f of readdirSync(join(vulndata, 'go-vulndb/data/osv'))) {
    writeFileSync(join(staging, 'go', f), readFileSync(join(vulndata, 'go-vulndb/data/osv', f)));
  }
  for (const pkg of readdirSync(join(vulndata, 'pypa/vulns'), { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    for (const f of readdirSync(join(vulndata, 'pypa/vulns', pkg.name)).filter((n) => /\.ya?ml$/.test(n))) {
      const doc = jsYaml.load(readFileSync(join(vulndata, 'pypa/vulns', pkg.name, f), 'utf8'));
      writeFileSync(join(staging, 'pypi', f.replace(/\.ya?ml$/, '.json')), JSON.stringify(doc));
    }
  }
  execFileSync('sh', ['-c', `cd "${join(staging, 'go')}" && zip -q -r "${join(go, 'all.zip')}" . && cd "${join(staging, 'pypi')}" && zip -q -r "${join(pypi, 'all.zip')}" .`]);
  // osv-scanner refuses to run offline without a database for every ecosystem it meets;
  // Gatehouse's database has no advisories for these either: empty archives (a bare
  // end-of-central-directory record) for both sides to be equal.
  const emptyZip = Buffer.concat([Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18)]);
  for (const eco of ['npm', 'Maven', 'crates.io', 'RubyGems', 'Packagist', 'NuGet', 'Debian', 'Alpine', 'Ubuntu', 'Red Hat', 'Rocky Linux', 'AlmaLinux', 'openSUSE', 'SUSE']) {
    mkdirSync(join(root, 'osv-scalibr', eco), { recursive: true });
    writeFileSync(join(root, 'osv-scalibr', eco, 'all.zip'), emptyZip);
  }
  return root;
}

export function toDockerArchive(ociRef: string, file: string): string {
  execFileSync('skopeo', ['copy', '-q', ociRef, `docker-archive:${file}:bench/image:latest`]);
  return file;
}

/** One offline osv-scanner run: wall ms and the vulnerability ids it reported. */
export function runOsvScanner(archive: string, db: string): { ms: number; ids: string[] } {
  const t = process.hrtime.bigint();
  const r = spawnSync(osvScanner, ['scan', 'image', '--archive', archive, '--offline', '--offline-vulnerabilities', '--format', 'json', '--verbosity', 'error'], {
    env: { ...process.env, OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY: db },
    maxBuffer: 256 << 20,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  // Exit 1 means "vulnerabilities found"; other codes are failures.
  if (r.status !== 0 && r.status !== 1) throw new Error(`osv-scanner exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  const ids = new Set<string>();
  const doc = JSON.parse(r.stdout) as { results?: { packages?: { vulnerabilities?: { id: string }[] }[] }[] };
  for (const res of doc.results ?? []) for (const p of res.packages ?? []) for (const v of p.vulnerabilities ?? []) ids.add(v.id);
  return { ms, ids: [...ids].sort() };
}

export const osvScannerAvailable = () => existsSync(osvScanner);
