/**
 * What the sensor must let out of the kernel for library drift: opens for reading of shared
 * objects (`*.so`, `*.so.N…`). The default open set (src/sensor/open-filter.ts) keeps every
 * write but only sensitive reads; `withLibraryOpens(bounds)` adds the shared-object reads
 * to any bounds, so a host agent running drift detection asks for exactly those.
 */
import type { OpenBounds, PathAtoms, PathBound } from '../../runtime/rules/path-bounds.js';

const LIBRARY_SUFFIX = '.so';
const LIBRARY_CONTAINS = '.so.';

function copyAtoms(a: PathAtoms): PathAtoms {
  return {
    exact: new Set(a.exact),
    prefix: new Set(a.prefix),
    dir: new Set(a.dir),
    base: new Set(a.base),
    suffix: new Set(a.suffix),
    contains: new Set(a.contains),
  };
}

function withLibraries(b: PathBound): PathBound {
  if (b === 'all') return b;
  const atoms = copyAtoms(b);
  atoms.suffix.add(LIBRARY_SUFFIX);
  atoms.contains.add(LIBRARY_CONTAINS);
  return atoms;
}

/** `bounds` plus reads (and read-writes) of shared objects. */
export function withLibraryOpens(bounds: OpenBounds): OpenBounds {
  return { ...bounds, read: withLibraries(bounds.read), readwrite: withLibraries(bounds.readwrite) };
}
