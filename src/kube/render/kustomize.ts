/**
 * Kustomizations: built with `kustomize build`, or `kubectl kustomize` when only kubectl is
 * installed (it embeds kustomize), before the checks — as Kubescape does. The objects are
 * the built ones (patches, images, labels applied); each is reported at the file it came
 * from: the build goes through a throw-away kustomization that has the user's directory as
 * its only resource and asks for kustomize's `config.kubernetes.io/origin` annotations, which
 * are taken off again so the objects are exactly what `kustomize build DIR` prints. Objects
 * without a file origin (generators, remote bases) are reported at the kustomization file.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseManifests, type LoadResult, type ManifestObject } from '../manifests.js';
import { UserError } from '../../util/errors.js';
import { findOnPath, runTool } from './tools.js';
import { TemplateLocator } from './template-positions.js';

const ORIGIN = 'config.kubernetes.io/origin';

export const KUSTOMIZE_MISSING =
  'needs kustomize or kubectl on PATH to build it (https://kubectl.docs.kubernetes.io/installation/kustomize/, or `go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2`); or build it yourself: kustomize build DIR | gatehouse k8s check -';

/** Builds the kustomization in DIR and loads its objects, each placed in its source file. */
export async function buildKustomization(dir: string, file: string): Promise<LoadResult> {
  const kustomize = findOnPath('kustomize');
  const kubectl = kustomize ? undefined : findOnPath('kubectl');
  if (!kustomize && !kubectl) throw new UserError(`${dir}: kustomization ${KUSTOMIZE_MISSING}`, 'bad-input');
  const build = (target: string) =>
    kustomize ? runTool(kustomize, ['build', target], `kustomize build ${dir}`) : runTool(kubectl!, ['kustomize', target], `kubectl kustomize ${dir}`);
  // A kustomization that asks for origin annotations itself keeps them: no wrapper then.
  const ownOrigins = /originAnnotations/.test(await readFile(file, 'utf8'));
  const wrapper = ownOrigins ? undefined : await mkdtemp(join(tmpdir(), 'gatehouse-kustomize-'));
  let built: string;
  let withOrigins = false;
  try {
    if (wrapper) {
      await writeFile(join(wrapper, 'kustomization.yaml'), `resources:\n- ${JSON.stringify(relative(wrapper, resolve(dir)))}\nbuildMetadata: [originAnnotations]\n`);
      built = await build(wrapper).then(
        (text) => ((withOrigins = true), text),
        () => build(dir), // the plain build gives the user's own error message
      );
    } else {
      built = await build(dir);
    }
  } finally {
    if (wrapper) await rm(wrapper, { recursive: true, force: true });
  }
  const parsed = parseManifests(built, file);
  const locators = new Map<string, TemplateLocator>();
  const objects: ManifestObject[] = [];
  for (const o of parsed.objects) {
    const origin = originFile(o, wrapper, dir, withOrigins);
    if (!origin) {
      const at = { file, line: 1, column: 1 };
      objects.push({ ...o, source: at, positionOf: () => at });
      continue;
    }
    let locator = locators.get(origin);
    if (!locator) locators.set(origin, (locator = new TemplateLocator(origin, await readFile(origin, 'utf8'))));
    const place = locator.place(o.kind, o.name);
    objects.push({ ...o, source: place.source, positionOf: (path) => place.positionOf(path) });
  }
  return { objects, notes: parsed.notes.map((n) => ({ level: n.level, file, message: n.message })) };
}

/**
 * The local file an object came from, by its origin annotation; the annotation is removed
 * when the wrapper added it. Paths are relative to the kustomization that asked for them.
 */
function originFile(o: ManifestObject, wrapper: string | undefined, dir: string, strip: boolean): string | undefined {
  const text = o.annotations[ORIGIN];
  if (text === undefined) return undefined;
  if (strip) {
    delete o.annotations[ORIGIN];
    const meta = o.raw.metadata as { annotations?: Record<string, unknown> };
    if (meta.annotations) {
      delete meta.annotations[ORIGIN];
      if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
    }
  }
  let origin: { path?: unknown; repo?: unknown };
  try {
    origin = (parse(text) ?? {}) as typeof origin;
  } catch {
    return undefined;
  }
  if (typeof origin.path !== 'string' || origin.repo) return undefined;
  const path = isAbsolute(origin.path) ? origin.path : resolve(strip && wrapper ? wrapper : dir, origin.path);
  if (!existsSync(path)) return undefined;
  // Shown the way the user named the directory: relative stays relative.
  return isAbsolute(dir) ? path : relative(process.cwd(), path);
}
