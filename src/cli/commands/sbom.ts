/**
 * `gatehouse fs sbom DIR` and `gatehouse image sbom REF`: package inventory as an SBOM
 * (CycloneDX 1.6 JSON, SPDX 2.3 JSON), Gatehouse JSON or a table. Warnings about files that
 * could not be read go to stderr; the SBOM still lists everything else.
 */
import type { Command } from 'commander';
import { openImage } from '../../image/index.js';
import { inventoryDirectory, inventoryImage, sbomFormats, type Inventory, type SbomTarget } from '../../inventory/index.js';
import { reportFatal } from '../fail.js';
import { formatOption, outputOption, writeOutput } from '../report-options.js';
import { addImageOptions, openOptions, progressFor, type ImageCliOptions } from '../image-options.js';
import { GATEHOUSE_VERSION } from '../../version.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { cycloneDxSbom, pushImageReport } from '../central-push.js';


interface SbomCliOptions {
  format: string;
  output?: string;
  analyzers?: string;
}

function addSbomOptions(cmd: Command): Command {
  return cmd
    .addOption(formatOption(Object.keys(sbomFormats), 'output format (cyclonedx: CycloneDX 1.6 JSON, spdx: SPDX 2.3 JSON)'))
    .addOption(outputOption('SBOM'))
    .option('--analyzers <names>', 'comma-separated analyzers to run (default: all)');
}

/** Adds `fs sbom DIR` (creating the `fs` group if no other command group has). */
export function registerSbomCommands(program: Command): void {
  const fs = program.commands.find((c) => c.name() === 'fs') ?? program.command('fs').description('scan a directory: a source tree or an unpacked root filesystem');
  addSbomOptions(
    fs
      .command('sbom')
      .description('list the packages in a directory, as an SBOM (CycloneDX, SPDX), JSON or a table')
      .argument('<dir>', 'directory to scan (symlinks are not followed)'),
  ).action(async (dir: string, o: SbomCliOptions) => {
    const progress = dirProgress();
    let inv: Inventory;
    try {
      inv = await inventoryDirectory(dir, { only: splitList(o.analyzers), onProgress: progress.update });
    } finally {
      progress.stop();
    }
    await emit({ kind: 'directory', name: dir }, inv, o);
  });
}

/** Adds `image sbom REF` to the `image` command group. */
export function registerImageSbomCommand(imageCommand: Command): void {
  addCentralOptions(addSbomOptions(
    addImageOptions(
      imageCommand
        .command('sbom')
        .description('list the packages in an image, as an SBOM (CycloneDX, SPDX), JSON or a table; with --server, pushed to Central')
        .argument('<ref>', 'image reference (see `image inspect`)'),
    ),
  )).action(async (ref: string, o: SbomCliOptions & ImageCliOptions & CentralCliOptions) => {
    const only = splitList(o.analyzers);
    const central = centralClientFrom(o);
    const img = await openImage(ref, openOptions(o));
    const progress = progressFor(img);
    try {
      const inv = await inventoryImage(img, { only, progress: progress.reporter });
      progress.stop();
      await emit({ kind: 'image', name: ref, digest: img.digest }, inv, o);
      if (central) {
        await pushImageReport(central, {
          digest: img.digest, refs: [ref], os: inv.os, created: img.config.created,
          layers: img.layers.map((l) => ({ digest: l.digest, size: l.size, createdBy: l.createdBy })),
          sbom: cycloneDxSbom(ref, img.digest, inv),
          labels: img.config.config?.Labels ?? null, ...(img.manifest.annotations ? { annotations: img.manifest.annotations } : {}),
        });
      }
    } finally {
      progress.stop();
      await img.close();
    }
  });
}

async function emit(target: SbomTarget, inventory: Inventory, o: SbomCliOptions): Promise<void> {
  for (const w of inventory.warnings) process.stderr.write(`gatehouse: warning: ${w.path ? `${w.path}: ` : ''}${w.message}\n`);
  const text = sbomFormats[o.format]({ target, inventory, toolVersion: GATEHOUSE_VERSION });
  if (!o.output) {
    // `gatehouse fs sbom . | head` closes the pipe early: not an error worth a stack trace.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reportFatal(e);
    });
  }
  await writeOutput(text, o);
}

function splitList(s: string | undefined): string[] | undefined {
  return s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
}

/** A file counter on stderr when it is a TTY; silent otherwise. */
function dirProgress(): { update?: (files: number) => void; stop(): void } {
  if (!process.stderr.isTTY || process.env.CI) return { stop() {} };
  let shown = false;
  return {
    update: (n) => {
      shown = true;
      process.stderr.write(`\rscanning: ${n} files`);
    },
    stop: () => {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
