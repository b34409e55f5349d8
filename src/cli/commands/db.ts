/** `gatehouse db …`: the local vulnerability database (import, update, status, export, push/pull). */
import { Option, type Command } from 'commander';
import { VulnDb, defaultDbPath, type DbStatus } from '../../vuln/db.js';
import { importPath } from '../../vuln/feeds/index.js';
import { dbFileKind, exportDb, importDbFile } from '../../vuln/db-archive.js';
import { pullDb, pushDb } from '../../vuln/db-oci.js';
import { updateDb } from '../../vuln/update.js';
import { updateProgress } from '../download-progress.js';
import { formatOption, outputOption, writeOutput } from '../report-options.js';

const dbOption = () => new Option('--db <path>', 'vulnerability database file').default(defaultDbPath(), '~/.cache/gatehouse/db/vuln.db');

function age(iso: string | undefined): string {
  if (!iso) return 'never';
  const hours = (Date.now() - Date.parse(iso)) / 3_600_000;
  return hours < 1 ? 'less than an hour ago' : hours < 48 ? `${Math.round(hours)} hours ago` : `${Math.round(hours / 24)} days ago`;
}

function renderStatus(s: DbStatus): string {
  const lines = [`database: ${s.path}`, `advisories: ${s.advisories} (affected packages: ${s.affectedPackages})`, `updated: ${s.updatedAt ?? 'never'} (${age(s.updatedAt)})`, 'sources:'];
  for (const src of s.sources) if (!src.name.startsWith('feed:')) lines.push(`  ${src.name}: ${src.advisories} advisories, updated ${age(src.updatedAt)}${src.url ? ` from ${src.url}` : ''}`);
  const feeds = s.sources.filter((x) => x.name.startsWith('feed:'));
  if (feeds.length) {
    lines.push('feeds:');
    for (const f of feeds) lines.push(`  ${f.url}: updated ${age(f.updatedAt)}${f.etag ? ` (etag ${f.etag})` : ''}`);
  }
  lines.push('ecosystems:');
  for (const e of s.ecosystems) lines.push(`  ${e.ecosystem}: ${e.advisories}`);
  return `${lines.join('\n')}\n`;
}

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('the local vulnerability database');

  db.command('import')
    .description('import advisories from a local path (OSV JSON/YAML file, directory or all.zip, Alpine secdb, Debian tracker JSON), or replace the DB by a `db export` file (digest verified)')
    .argument('<path>', 'file or directory')
    .addOption(dbOption())
    .action(async (path: string, o: { db: string }) => {
      if (dbFileKind(path) !== 'other') {
        const meta = await importDbFile(path, o.db);
        process.stdout.write(`replaced ${o.db} with ${path}${meta ? `: ${meta.advisories} advisories, ${meta.digest}, updated ${meta.updatedAt ?? 'never'}` : ''}\n`);
        return;
      }
      const store = VulnDb.open(o.db, { create: true });
      try {
        const tty = process.stderr.isTTY;
        const stats = await importPath(store, path, { onProgress: tty ? (n) => process.stderr.write(`\rimporting: ${n} files`) : undefined });
        if (tty) process.stderr.write('\n');
        for (const p of stats.problems) process.stderr.write(`gatehouse: warning: skipped: ${p}\n`);
        if (stats.invalid > stats.problems.length) process.stderr.write(`gatehouse: warning: ${stats.invalid - stats.problems.length} more invalid records skipped\n`);
        process.stdout.write(`imported ${path}: ${stats.added} added, ${stats.updated} updated, ${stats.unchanged} unchanged, ${stats.invalid} invalid (sources: ${[...stats.sources].join(', ')})\n`);
      } finally {
        store.close();
      }
    });

  db.command('status')
    .description('sources, counts and age of the database')
    .addOption(dbOption())
    .addOption(formatOption(['table', 'json']))
    .addOption(outputOption('status'))
    .action(async (o: { db: string; format: string; output?: string }) => {
      const store = VulnDb.open(o.db, { readonly: true });
      try {
        const s = store.status();
        await writeOutput(o.format === 'json' ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s), o);
      } finally {
        store.close();
      }
    });

  db.command('update')
    .description('download the configured feeds and import them atomically (a failed update keeps the old database)')
    .addOption(dbOption())
    .option('--feed <url...>', 'feed URLs to download instead of the defaults (src/vuln/feeds/default-feeds.yaml)')
    .action(async (o: { db: string; feed?: string[] }) => {
      const progress = updateProgress();
      const results = await updateDb(o.db, { feeds: o.feed, onFeed: progress.onFeed, onBytes: progress.onBytes }).finally(() => progress.stop());
      const updated = results.filter((r) => r.status === 'updated').length;
      process.stdout.write(`updated ${o.db}: ${updated} feeds imported, ${results.length - updated} not modified\n`);
    });

  db.command('export')
    .description('write a consistent copy of the DB to a file, with its sha256 digest and feed freshness, for `db import` on another machine')
    .argument('<file>', 'file to write')
    .addOption(dbOption())
    .action(async (file: string, o: { db: string }) => {
      const meta = await exportDb(o.db, file);
      process.stdout.write(`exported ${o.db} to ${file}: ${meta.advisories} advisories, ${meta.digest}\n`);
    });

  db.command('push')
    .description('push the DB to a registry as an OCI artefact (application/vnd.gatehouse.vulndb.config.v1+json)')
    .argument('<reference>', 'REGISTRY/REPO:TAG')
    .addOption(dbOption())
    .option('--insecure', 'use plain HTTP for the registry (loopback registries always use it)')
    .action(async (ref: string, o: { db: string; insecure?: boolean }) => {
      const r = await pushDb(o.db, ref, { insecure: o.insecure });
      process.stdout.write(`pushed ${o.db} to ${ref}@${r.digest}: ${r.meta.advisories} advisories, ${r.meta.digest}\n`);
    });

  db.command('pull')
    .description('replace the DB by an OCI artefact pushed with `db push` (layer and DB digests verified)')
    .argument('<reference>', 'REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST')
    .addOption(dbOption())
    .option('--insecure', 'use plain HTTP for the registry (loopback registries always use it)')
    .action(async (ref: string, o: { db: string; insecure?: boolean }) => {
      const r = await pullDb(ref, o.db, { insecure: o.insecure });
      process.stdout.write(`replaced ${o.db} with ${ref}@${r.digest}: ${r.meta.advisories} advisories, ${r.meta.digest}, updated ${r.meta.updatedAt ?? 'never'}\n`);
    });
}
