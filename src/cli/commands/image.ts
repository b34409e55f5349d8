/** `gatehouse image …`: read images from registries, OCI layouts, archives and engines. */
import type { Command } from 'commander';
import { inspectImage, listingRow, openImage, walkImage, type InspectReport, type ListingRow } from '../../image/index.js';
import { addImageOptions, openOptions, progressFor, type ImageCliOptions } from '../image-options.js';
import { formatBytes, modeString, table } from '../text.js';
import { formatOption as reportFormatOption, outputOption, writeOutput } from '../report-options.js';

const formatOption = () => reportFormatOption(['table', 'json']);

export function registerImageCommands(program: Command): Command {
  const image = program.command('image').description('read, inspect and list container images');

  addImageOptions(
    image
      .command('inspect')
      .description('digest, platform, config, layers, OS and size of an image')
      .argument('<ref>', 'image: REGISTRY/REPO[:TAG|@DIGEST], oci:PATH[:TAG], docker-archive:FILE, docker-daemon:NAME')
      .addOption(formatOption())
      .addOption(outputOption()),
  ).action(async (ref: string, o: ImageCliOptions & { format: string; output?: string }) => {
    const img = await openImage(ref, openOptions(o));
    const progress = progressFor(img);
    try {
      const report = await inspectImage(img, { progress: progress.reporter });
      progress.stop();
      await writeOutput(o.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderInspect(report), o);
    } finally {
      progress.stop();
      await img.close();
    }
  });

  addImageOptions(
    image
      .command('ls')
      .description('the squashed filesystem of an image, one entry per path')
      .argument('<ref>', 'image reference (see `image inspect`)')
      .addOption(formatOption())
      .addOption(outputOption()),
  ).action(async (ref: string, o: ImageCliOptions & { format: string; output?: string }) => {
    const img = await openImage(ref, openOptions(o));
    const progress = progressFor(img);
    try {
      const walk = await walkImage(img, { progress: progress.reporter });
      progress.stop();
      const rows = [...walk.files.entries()].map(listingRow);
      for (const w of walk.warnings) process.stderr.write(`gatehouse: warning: ${w}\n`);
      await writeOutput(o.format === 'json' ? `${JSON.stringify(rows, null, 1)}\n` : renderListing(rows), o);
    } finally {
      progress.stop();
      await img.close();
    }
  });

  return image;
}

function renderInspect(r: InspectReport): string {
  const lines: string[] = [];
  const kv = (k: string, v: string | undefined) => v && lines.push(`${`${k}:`.padEnd(14)}${v}`);
  kv('Name', r.name);
  kv('Digest', r.digest);
  kv('Index', r.indexDigest);
  kv('Config', r.configDigest);
  kv('Platform', r.platform);
  kv('Created', r.created);
  kv('OS', r.os?.prettyName ?? r.os?.id ?? 'unknown');
  kv('User', r.config.user || '(root)');
  kv('Entrypoint', r.config.entrypoint.length ? JSON.stringify(r.config.entrypoint) : undefined);
  kv('Cmd', r.config.cmd.length ? JSON.stringify(r.config.cmd) : undefined);
  kv('WorkingDir', r.config.workingDir || undefined);
  kv('Ports', r.config.exposedPorts.join(', ') || undefined);
  kv('Size', `${formatBytes(r.totalSize)} stored, ${formatBytes(r.expandedSize)} expanded`);
  kv('Files', `${r.fileCount} files, ${r.entryCount} entries`);
  if (r.config.env.length) {
    lines.push('Env:');
    for (const e of r.config.env) lines.push(`  ${e}`);
  }
  const labels = Object.entries(r.config.labels);
  if (labels.length) {
    lines.push('Labels:');
    for (const [k, v] of labels) lines.push(`  ${k}=${v}`);
  }
  lines.push('', 'Layers:');
  lines.push(
    table(
      ['#', 'DIGEST', 'SIZE', 'EXPANDED', 'CREATED BY'],
      r.layers.map((l) => [String(l.index), l.digest.slice(0, 19), formatBytes(l.size), formatBytes(l.expandedSize), (l.createdBy ?? '').replace(/\s+/g, ' ').slice(0, 80)]),
    ),
  );
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

function renderListing(rows: ListingRow[]): string {
  const out = rows.map((r) => {
    const link = r.linkname ? ` -> ${r.linkname}` : '';
    return `${modeString(r.type, Number.parseInt(r.mode, 8))} ${String(r.uid).padStart(5)} ${String(r.gid).padStart(5)} ${String(r.size).padStart(10)}  L${r.layer}  ${r.path}${link}`;
  });
  return `${out.join('\n')}\n`;
}
