/**
 * How far Central's JS heaps may grow between full collections. V8 sizes that from the heap
 * limit, which it derives from the machine's memory (4 GB here): past 2 GB it lets a heap grow
 * up to 4× its live size before the next mark-compact. Central's main thread holds ~180 MB live
 * (15,000 deployments' state), so ingest's short-lived garbage that survives two scavenges
 * (request objects, store rows, texts in flight across awaits) piled up for whole bench rows
 * with no full collection at all: main-thread old space 155 → 212 MB over 1,200 pushes, and
 * Central's RSS with it (bench:central, session 9). A fixed 1.25× keeps the heap within a
 * quarter of what it holds, at the cost of more frequent (incremental, mostly concurrent)
 * full collections; the limit itself is not lowered, so a larger fleet does not run out of heap.
 */
import { setFlagsFromString } from 'node:v8';

/** The heap growth V8 allows between full collections, in percent of the live heap (V8 flag `--heap-growing-percent`). */
export const HEAP_GROWING_PERCENT = 25;

let applied = false;

/** Applies HEAP_GROWING_PERCENT to this process's heaps (V8 flags are process-wide: image workers too), once. Read at each full collection's new limit. */
export function boundHeapGrowth(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
