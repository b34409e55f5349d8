/**
 * A worker thread for a module that is `NAME.js` next to its caller once built, or `NAME.ts`
 * when running from source (tests, `npm ci` without a build). Workers do not inherit the main
 * thread's loader hooks, so from source the worker registers tsx itself before importing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** `base` is the module's URL without its extension, e.g. `new URL('./image-worker', import.meta.url)`. */
export function spawnModuleWorker(base: URL, resourceLimits?: ResourceLimits): Worker {
  const limits = resourceLimits ? { resourceLimits } : {};
  const built = new URL(`${base.href}.js`);
  if (existsSync(fileURLToPath(built))) return new Worker(built, limits);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = `${base.href}.ts`;
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true, ...limits });
}
