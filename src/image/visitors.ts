/** Ready-made visitors for common needs. */
import { readAll } from './digest.js';
import type { FileEntry, FileVisitor } from './files.js';

/**
 * Keeps the content of files whose path matches: exact paths, or a predicate. Files larger
 * than maxSize are skipped (their content is never buffered).
 */
export function collectFiles(
  name: string,
  match: readonly string[] | ((path: string, entry: FileEntry) => boolean),
  maxSize = 1024 * 1024,
): FileVisitor<Buffer> {
  const wanted = typeof match === 'function' ? match : (p: string) => match.includes(p);
  return {
    name,
    wants: (path, entry) => entry.size <= maxSize && wanted(path, entry),
    visit: ({ content, path }) => readAll(content, maxSize, path),
  };
}
