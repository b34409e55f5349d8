/**
 * The inventory library API: which visitors to run over an image or directory, and how
 * their per-file results become one Inventory (OS, packages, warnings). Used by the CLI
 * and by the vulnerability matcher.
 */
import type { FileVisitor, VisitResult } from '../image/files.js';
import type { Analyzer, FileFindings, FinishContext, InventoryWarning, SourceKind } from './analyzer.js';
import { analyzers as allAnalyzers } from './analyzers/index.js';
import { detectOs, osReleaseVisitor, type OsFact } from './os-release.js';
import type { OsInfo, Package } from './package.js';
import { UserError } from '../util/errors.js';

export type { InventoryWarning } from './analyzer.js';

export interface Inventory {
  os?: OsInfo;
  packages: Package[];
  warnings: InventoryWarning[];
}

export interface InventoryOptions {
  /** Analyzer names to run (default: all that apply to the source). */
  only?: string[];
  /** What is scanned: some analyzers apply to one kind only (default: directory). */
  source?: SourceKind;
}

/** The analyzers selected by `opts`, checked against the registry. */
export function selectAnalyzers(opts: InventoryOptions = {}): Analyzer<any>[] {
  const source = opts.source ?? 'directory';
  if (!opts.only?.length) return allAnalyzers.filter((a) => !a.sources || a.sources.includes(source));
  const known = new Map(allAnalyzers.map((a) => [a.name, a]));
  return opts.only.map((n) => {
    const a = known.get(n);
    if (!a) throw new UserError(`unknown analyzer ${n} (known: ${[...known.keys()].join(', ')})`);
    return a;
  });
}

/**
 * The visitors to hand to a walker (walkImage or walkDirectory). Each analyzer is wrapped
 * so that a file it cannot read becomes a warning result instead of an exception: one bad
 * file never costs the rest of the inventory.
 */
export function inventoryVisitors(opts: InventoryOptions = {}): FileVisitor[] {
  return [osReleaseVisitor, ...selectAnalyzers(opts).map(guarded)];
}

function guarded<D>(a: Analyzer<D>): FileVisitor<FileFindings<D>> {
  return {
    name: a.name,
    wants: (path, entry) => a.wants(path, entry),
    async visit(file) {
      try {
        return await a.visit(file);
      } catch (e) {
        return { warning: (e as Error).message?.split('\n')[0] || String(e) };
      }
    },
  };
}

/** Turns the walker's results (visitor name → surviving per-file results) into an Inventory. */
export function assembleInventory(
  results: Map<string, VisitResult[]>,
  opts: InventoryOptions & { layerDigests?: string[]; realPath?: FinishContext['realPath'] } = {},
): Inventory {
  const os = detectOs((results.get(osReleaseVisitor.name) ?? []) as VisitResult<OsFact>[]);
  const packages: Package[] = [];
  const warnings: InventoryWarning[] = [];
  for (const a of selectAnalyzers(opts)) {
    const rs = (results.get(a.name) ?? []) as VisitResult<FileFindings>[];
    const layerOf = new Map(rs.map((r) => [r.path, r.layer]));
    for (const r of rs) if (r.result.warning) warnings.push({ analyzer: a.name, path: r.path, message: r.result.warning });
    let found: Package[];
    try {
      found = a.finish ? a.finish(rs, { os, layerDigests: opts.layerDigests, realPath: opts.realPath }) : rs.flatMap((r) => r.result.packages ?? []);
    } catch (e) {
      warnings.push({ analyzer: a.name, path: '', message: `could not combine results: ${(e as Error).message}` });
      continue;
    }
    for (const p of found) {
      const layer = layerOf.get(p.location.path);
      if (layer !== undefined && layer >= 0 && p.location.layer === undefined) {
        p.location = { ...p.location, layer, layerDigest: opts.layerDigests?.[layer] };
      }
      packages.push(p);
    }
  }
  packages.sort(comparePackages);
  warnings.sort((x, y) => cmp(x.path, y.path));
  return { os, packages, warnings };
}

function comparePackages(a: Package, b: Package): number {
  return cmp(a.ecosystem, b.ecosystem) || cmp(a.name, b.name) || cmp(a.version, b.version) || cmp(a.location.path, b.location.path);
}

/** Code-point order: stable across locales, and much cheaper than localeCompare. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
