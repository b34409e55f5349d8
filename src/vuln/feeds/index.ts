/**
 * Imports a local path into the DB, whatever it holds: a directory (walked), an OSV
 * JSON/YAML file, an OSV all.zip, an Alpine secdb JSON/YAML, a Debian tracker JSON, a Wolfi or
 * Chainguard security.json, Photon CVE data, a yum updateinfo.xml[.gz] (Amazon Linux,
 * Rocky Linux, Bottlerocket), an Azure Linux OVAL XML or a Red Hat OVAL .xml.bz2.
 * The format is recognized from the content; one importer per feed sits beside this file.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import jsYaml from 'js-yaml';
import { UserError, describeError, isUserError } from '../../util/errors.js';
import type { VulnDb } from '../db.js';
import type { Advisory } from '../model.js';
import { isSecdb, secdbAdvisories } from './alpine-secdb.js';
import { TrackerCollector, isDebianTracker, looksLikeTrackerStart, trackerAdvisories } from './debian-tracker.js';
import { objectMembers } from './json-object-stream.js';
import { OSV_SOURCE, isOsvRecord, osvAdvisories, readZipEntries } from './osv.js';
import { isPhotonCveData, photonAdvisories } from './photon-cve.js';
import { isWolfiSecdb, wolfiSecdbAdvisories } from './wolfi-secdb.js';
import { readXmlFeed, xmlAdvisories } from './xml-feeds.js';
import { emptyStats, type ImportOptions, type ImportStats } from './types.js';

export { emptyStats, type ImportStats, type ImportOptions } from './types.js';

const MAX_PROBLEMS = 20;

/** Recognizes one parsed document and normalizes its advisories. */
export function advisoriesOf(doc: unknown, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  if (isSecdb(doc)) return secdbAdvisories(doc, where, feedDate);
  if (isWolfiSecdb(doc)) return wolfiSecdbAdvisories(doc, where, feedDate);
  if (isPhotonCveData(doc)) return photonAdvisories(doc, where, feedDate);
  if (Array.isArray(doc) || isOsvRecord(doc)) return { source: OSV_SOURCE, advisories: osvAdvisories(doc, where) };
  if (isDebianTracker(doc)) return trackerAdvisories(doc, where, feedDate);
  throw new UserError(`${where}: not an OSV record, Alpine secdb or Debian tracker document`, 'bad-feed');
}

function parseText(text: string, name: string): unknown {
  try {
    // js-yaml: several times faster than `yaml` on thousands of advisories; its failsafe
    // schema keeps every scalar a string, so a version "7.0" stays "7.0", not the number 7.
    return /\.ya?ml$/i.test(name) ? jsYaml.load(text, { schema: jsYaml.FAILSAFE_SCHEMA, filename: name }) : JSON.parse(text);
  } catch (e) {
    throw new UserError(`${name}: cannot parse: ${describeError(e)}`, 'bad-feed');
  }
}

function store(db: VulnDb, stats: ImportStats, source: string, advisories: Advisory[]): void {
  stats.sources.add(source);
  for (const adv of advisories) stats[db.upsert(adv)]++;
}

function problem(stats: ImportStats, e: unknown): void {
  if (!isUserError(e)) throw e;
  stats.invalid++;
  if (stats.problems.length < MAX_PROBLEMS) stats.problems.push(e.message);
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (/\.(json|ya?ml|zip|xml|xml\.gz|xml\.bz2)$/i.test(name)) out.push(p);
  }
  return out;
}

/**
 * Imports PATH. A single bad file is an error; inside a directory or zip, bad records are
 * counted and reported in `stats.problems` while the rest is imported.
 */
export async function importPath(db: VulnDb, path: string, opts: ImportOptions = {}): Promise<ImportStats> {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`${path}: no such file or directory`, 'not-found');
  }
  const stats = emptyStats();
  const files = st.isDirectory() ? walk(path, []) : [path];
  if (st.isDirectory() && files.length === 0) throw new UserError(`${path}: no .json, .yaml, .zip or .xml feed files found`, 'bad-feed');
  const single = !st.isDirectory();
  let done = 0;
  const BATCH = 500;
  let batch: { name: string; date: string; text: string }[] = [];
  const flush = (): void => {
    db.transaction(() => {
      for (const f of batch) {
        try {
          const { source, advisories } = advisoriesOf(parseText(f.text, f.name), f.name, f.date);
          store(db, stats, source, advisories);
        } catch (e) {
          if (single) throw e;
          problem(stats, e);
        }
      }
    });
    done += batch.length;
    batch = [];
    opts.onProgress?.(done);
  };
  for (const file of files) {
    const date = opts.feedDate ?? statSync(file).mtime.toISOString();
    if (/\.zip$/i.test(file)) {
      flush();
      await readZipEntries(file, (name, text) => {
        batch.push({ name: `${basename(file)}:${name}`, date, text });
        if (batch.length >= BATCH) flush();
      });
      flush();
      continue;
    }
    const xml = /\.zip$/i.test(file) ? undefined : readXmlFeed(file, head(file));
    if (xml !== undefined) {
      flush();
      try {
        const { source, advisories } = xmlAdvisories(xml, file, date);
        db.transaction(() => store(db, stats, source, advisories));
      } catch (e) {
        if (single) throw e;
        problem(stats, e);
      }
      continue;
    }
    if (/\.json$/i.test(file) && looksLikeTrackerStart(head(file))) {
      flush();
      try {
        await importTrackerStream(db, stats, file, date);
      } catch (e) {
        if (single) throw e;
        problem(stats, e);
      }
      continue;
    }
    batch.push({ name: file, date, text: readFileSync(file, 'utf8') });
    if (batch.length >= BATCH) flush();
  }
  flush();
  for (const source of stats.sources) db.recordSource({ name: source, url: `file://${path}` });
  return stats;
}

function head(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * The Debian tracker (~70 MB) read one source package at a time, so memory follows the
 * advisories kept rather than the size of the text and its parse tree.
 */
async function importTrackerStream(db: VulnDb, stats: ImportStats, file: string, date: string): Promise<void> {
  const collector = new TrackerCollector(date);
  try {
    for await (const [pkg, issues] of objectMembers(file)) collector.add(pkg, issues);
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: cannot parse: ${describeError(e)}`, 'bad-feed');
  }
  const { source, advisories } = collector.result();
  db.transaction(() => store(db, stats, source, advisories));
}
