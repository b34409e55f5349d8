/**
 * The facts of a container's image, when the caller knows them (a scan result, Central's
 * inventory): every image-level field of the `image` subject (image.vulnerabilities.critical,
 * image.signed, image.ageDays, image.runsAsRoot, …), evaluated per container through the
 * workload subject's `imageFacts(ref)` lookup. The definitions are the image subject's own,
 * so a field means the same in both subjects. Unknown facts → not applicable (undefined).
 */
import { imageFieldRegistry } from '../../vuln/fields/index.js';
import type { ImageContext } from '../../vuln/fields/context.js';
import type { EvalContext, FieldDef } from './context.js';

function imageContext(ctx: EvalContext): ImageContext | undefined {
  const ref = String(ctx.container?.container.image ?? '');
  const facts = ref ? ctx.imageFacts?.(ref) : undefined;
  if (!facts) return undefined;
  const nowMs = Date.parse(facts.now);
  return { facts, nowMs: Number.isFinite(nowMs) ? nowMs : Date.now() };
}

export const imageFactsFields: FieldDef[] = imageFieldRegistry()
  .all()
  .filter((def) => def.target === 'image')
  .map((def): FieldDef => ({
    name: def.name,
    target: 'container',
    type: def.type,
    description: `${def.description} — of the container's image, when its facts are known`,
    extract: (ctx) => {
      const ictx = imageContext(ctx);
      if (!ictx) return undefined;
      const hits = def.extract(ictx);
      return hits?.map((h) => ({ ...h, path: h.path ?? [...ctx.container!.path, 'image'] }));
    },
  }));
