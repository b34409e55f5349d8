/**
 * RPM packages from the rpmdb under var/lib/rpm, usr/lib/sysimage/rpm or usr/share/rpm: the
 * sqlite `rpmdb.sqlite` (RHEL 9, Fedora, Amazon Linux 2023, newer SUSE), the BerkeleyDB
 * `Packages` (RHEL/CentOS 7–8) and the NDB `Packages.db` (openSUSE/SLES 15).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Analyzer } from '../analyzer.js';
import type { OsInfo, Package } from '../package.js';
import { makePurl } from '../purl.js';
import { distroQualifier } from '../os-release.js';
import { readLimited } from '../streams.js';
import { headerFiles, headerInt, headerString, parseRpmHeader, RPMTAG } from './rpm-header.js';
import { bdbHashValues } from './rpm-bdb.js';
import { ndbPackageBlobs } from './rpm-ndb.js';

const DIRS = ['/var/lib/rpm/', '/usr/lib/sysimage/rpm/', '/usr/share/rpm/'];
const SQLITE = 'rpmdb.sqlite';
const WAL = `${SQLITE}-wal`;
const NDB = 'Packages.db';
const LEGACY = new Set(['Packages', NDB]);
const WANT = Object.values(RPMTAG);

/** A WAL-mode rpmdb.sqlite is kept until finish, where its -wal file (if any) is applied. */
type RpmData = { kind: 'sqlite'; bytes: Buffer } | { kind: 'wal'; bytes: Buffer };

export const rpmAnalyzer: Analyzer<RpmData> = {
  name: 'rpm',
  wants(path) {
    const dir = DIRS.find((d) => path.startsWith(d));
    if (!dir) return false;
    const base = path.slice(dir.length);
    return base === SQLITE || base === WAL || LEGACY.has(base);
  },
  async visit({ path, content }) {
    const bytes = await readLimited(content, 1024 * 1024 * 1024);
    if (path.endsWith(WAL)) return bytes.length ? { data: { kind: 'wal', bytes } } : undefined;
    let blobs: Buffer[];
    if (path.endsWith(SQLITE)) blobs = sqliteBlobs(bytes);
    else if (path.endsWith(NDB)) blobs = [...ndbPackageBlobs(bytes)];
    // rpm's BerkeleyDB keeps its next instance number (4 bytes) beside the header blobs.
    else blobs = [...bdbHashValues(bytes)].filter((v) => v.length >= 8);
    const { packages, bad } = packagesFromHeaders(blobs, path);
    const walMode = path.endsWith(SQLITE) && bytes[18] === 2;
    return { packages, data: walMode ? { kind: 'sqlite', bytes } : undefined, warning: bad ? `${bad} unreadable package header(s) skipped` : undefined };
  },
  finish(results, ctx) {
    const wals = new Map(results.filter((r) => r.result.data?.kind === 'wal').map((r) => [r.path.slice(0, -'-wal'.length), r.result.data!.bytes]));
    return results.flatMap((r) => {
      const d = r.result.data;
      let packages = r.result.packages ?? [];
      const wal = wals.get(r.path);
      if (d?.kind === 'sqlite' && wal) packages = packagesWithWal(d.bytes, wal, r.path) ?? packages;
      return packages.map((p) => withOs(p, ctx.os));
    });
  },
};

function sqliteBlobs(bytes: Buffer): Buffer[] {
  if (bytes.length < 100 || bytes.toString('latin1', 0, 15) !== 'SQLite format 3') {
    throw new Error('not an SQLite database');
  }
  // rpm keeps the db in WAL mode; an in-memory copy must be opened in rollback mode
  // (header bytes 18/19 = 1). The walker's buffer is shared with other visitors: a copy.
  const copy = Buffer.from(bytes);
  copy[18] = 1;
  copy[19] = 1;
  const db = new Database(copy, { readonly: true });
  try {
    return headerBlobs(db);
  } finally {
    db.close();
  }
}

function headerBlobs(db: Database.Database): Buffer[] {
  return (db.prepare('SELECT blob FROM Packages ORDER BY hnum').all() as Array<{ blob: Buffer }>).map((r) => r.blob);
}

/**
 * Packages of an rpmdb.sqlite with its -wal file applied: pages rpm wrote since the last
 * checkpoint live only there. SQLite replays a WAL only from files, so both go to a private
 * temporary directory, removed afterwards. Undefined (the db file alone counts) when SQLite
 * cannot use them.
 */
function packagesWithWal(db: Buffer, wal: Buffer, path: string): Package[] | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rpmdb-'));
  try {
    writeFileSync(join(dir, SQLITE), db);
    writeFileSync(join(dir, WAL), wal);
    const conn = new Database(join(dir, SQLITE), { fileMustExist: true });
    try {
      return packagesFromHeaders(headerBlobs(conn), path).packages;
    } finally {
      conn.close();
    }
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function packagesFromHeaders(blobs: Buffer[], path: string): { packages: Package[]; bad: number } {
  const out: Package[] = [];
  let bad = 0;
  for (const blob of blobs) {
    let h;
    try {
      h = parseRpmHeader(blob, WANT);
    } catch {
      bad++;
      continue;
    }
    const name = headerString(h, RPMTAG.NAME);
    const version = headerString(h, RPMTAG.VERSION);
    const release = headerString(h, RPMTAG.RELEASE);
    // gpg-pubkey entries are imported signing keys, not software.
    if (!name || !version || name === 'gpg-pubkey') continue;
    const srpm = headerString(h, RPMTAG.SOURCERPM);
    const license = headerString(h, RPMTAG.LICENSE);
    out.push({
      ecosystem: 'rpm',
      name,
      version: release ? `${version}-${release}` : version,
      purl: '',
      licenses: license ? [license] : undefined,
      location: { path },
      source: srpm ? parseSourceRpm(srpm) : undefined,
      arch: headerString(h, RPMTAG.ARCH),
      epoch: headerInt(h, RPMTAG.EPOCH),
      analyzer: 'rpm',
      metadata: { release, vendor: headerString(h, RPMTAG.VENDOR), sourceRpm: srpm, files: headerFiles(h) },
    });
  }
  return { packages: out, bad };
}

/** "bash-5.1.8-6.el9.src.rpm" → { name: bash, version: 5.1.8-6.el9 }. */
export function parseSourceRpm(srpm: string): { name: string; version?: string } {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(srpm);
  if (!m) return { name: srpm };
  return { name: m[1], version: `${m[2]}-${m[3]}` };
}

const NAMESPACE: Record<string, string> = { rhel: 'redhat', centos: 'centos', fedora: 'fedora', rocky: 'rocky-linux', almalinux: 'almalinux', amzn: 'amazon', ol: 'oracle', opensuse: 'opensuse', 'opensuse-leap': 'opensuse', sles: 'suse' };
const ECOSYSTEM: Record<string, string> = { rhel: 'Red Hat', rocky: 'Rocky Linux', almalinux: 'AlmaLinux', opensuse: 'openSUSE', 'opensuse-leap': 'openSUSE', sles: 'SUSE' };

function withOs(p: Package, os: OsInfo | undefined): Package {
  const md = p.metadata as { release?: string };
  const version = md.release ? p.version.slice(0, -(md.release.length + 1)) : p.version;
  return {
    ...p,
    ecosystem: (os && ECOSYSTEM[os.id]) ?? (os ? os.id : 'rpm'),
    purl: makePurl('rpm', (os && NAMESPACE[os.id]) ?? os?.id, p.name, md.release ? `${version}-${md.release}` : version, {
      arch: p.arch,
      epoch: p.epoch !== undefined ? String(p.epoch) : undefined,
      distro: distroQualifier(os),
    }),
  };
}
