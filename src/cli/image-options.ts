/** Options every command that reads an image shares, and TTY progress while it reads. */
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { parseSize, type OpenImageOptions, type ProgressReporter, type OpenedImage } from '../image/index.js';

export interface ImageCliOptions {
  platform?: string;
  insecure?: boolean;
  authfile?: string;
  maxExpandedSize?: string;
  maxEntries?: string;
}

export function addImageOptions(cmd: Command): Command {
  return cmd
    .option('--platform <os/arch[/variant]>', 'platform to select from a multi-platform image (default: the host)')
    .option('--insecure', 'use plain HTTP for the registry (like skopeo --tls-verify=false)')
    .option('--authfile <file>', 'registry credentials file (default: $REGISTRY_AUTH_FILE, ~/.docker/config.json)')
    .addOption(new Option('--max-expanded-size <size>', 'refuse images that expand beyond this (e.g. 20G)'))
    .addOption(new Option('--max-entries <n>', 'refuse images with more tar entries than this'));
}

export function openOptions(o: ImageCliOptions): OpenImageOptions {
  return {
    platform: o.platform,
    insecure: o.insecure,
    authFile: o.authfile,
    limits: {
      maxExpandedBytes: o.maxExpandedSize ? parseSize(o.maxExpandedSize) : undefined,
      maxEntries: o.maxEntries ? Number.parseInt(o.maxEntries, 10) : undefined,
    },
  };
}

/** A progress bar on stderr when it is a TTY; nothing otherwise (machine output stays clean). */
export function progressFor(image: OpenedImage): { reporter?: ProgressReporter; stop(): void } {
  if (!process.stderr.isTTY || process.env.CI) return { stop() {} };
  const total = image.layers.reduce((s, l) => s + Math.max(l.size, 0), 0);
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'reading {name} [{bar}] {percentage}% | layer {layer}/{layers}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total || 1, 0, { name: image.name, layer: 0, layers: image.layers.length });
  return {
    reporter: {
      layerStart: (l) => bar.update({ layer: l.index + 1 }),
      bytes: (_l, n) => bar.increment(n),
    },
    stop: () => bar.stop(),
  };
}
