/**
 * What an inventory analyzer is: a FileVisitor that keeps a small per-file result, plus a
 * `finish` step that turns all of its surviving per-file results into packages (some
 * formats need several files together, e.g. dpkg's status plus its info/*.list files).
 */
import type { FileVisitor, VisitResult } from '../image/files.js';
import type { OsInfo, Package } from './package.js';

/** A file that could not be analyzed; the rest of the inventory is still produced. */
export interface InventoryWarning {
  analyzer: string;
  path: string;
  message: string;
}

/** Per-file result of an analyzer: packages found there, or a problem with that file. */
export interface FileFindings<D = unknown> {
  packages?: Package[];
  /** Format-specific data that `finish` combines across files (file lists, os facts). */
  data?: D;
  warning?: string;
}

export interface FinishContext {
  os?: OsInfo;
  /** Digest of each layer by index, when scanning an image. */
  layerDigests?: string[];
  /** Where a path leads once symlinks are followed (undefined when it cannot be resolved). */
  realPath?: (path: string) => string | undefined;
}

export type SourceKind = 'image' | 'directory';

export interface Analyzer<D = unknown> extends FileVisitor<FileFindings<D>> {
  /** Where this analyzer applies (default: both), e.g. lockfiles only in source trees. */
  sources?: SourceKind[];
  /** Combines the per-file results (default: concatenates their packages). */
  finish?(results: VisitResult<FileFindings<D>>[], ctx: FinishContext): Package[];
}
