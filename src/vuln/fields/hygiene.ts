/**
 * Hygiene facts of the image (not applicable when the hygiene scan did not run) and each
 * hygiene check the scanner reported (target `check`).
 */
import { hit } from '../../policy/fields.js';
import type { ImageHygiene } from '../image-facts.js';
import type { ImageContext, ImageFieldDef } from './context.js';

const h = (ctx: ImageContext): ImageHygiene | undefined => ctx.facts.hygiene;
const paths = (what: string) => (ctx: ImageContext) => {
  const list = h(ctx)?.[what as 'packageManagers'];
  return list === undefined ? undefined : list.map((p) => hit(p, undefined, p));
};

export const hygieneFields: ImageFieldDef[] = [
  { name: 'image.user', target: 'image', type: 'string', description: 'the config USER ("" when unset)', extract: (ctx) => (h(ctx) ? [hit(h(ctx)!.user)] : undefined) },
  {
    name: 'image.runsAsRoot', target: 'image', type: 'boolean', description: 'the image runs as root (USER unset, 0 or root)',
    extract: (ctx) => (h(ctx) ? [hit(h(ctx)!.runsAsRoot, undefined, h(ctx)!.runsAsRoot ? (h(ctx)!.user ? `runs as ${h(ctx)!.user}` : 'no USER set: runs as root') : `runs as ${h(ctx)!.user}`)] : undefined),
  },
  { name: 'image.packageManagers', target: 'image', type: 'list', description: 'package managers present (paths of apt, apk, pip, npm, …)', extract: paths('packageManagers') },
  { name: 'image.attackerTools', target: 'image', type: 'list', description: 'tools attackers use present (paths of curl, wget, nc, …)', extract: paths('attackerTools') },
  { name: 'image.setuidFiles', target: 'image', type: 'list', description: 'regular files with the setuid or setgid bit', extract: paths('setuidFiles') },
  {
    name: 'image.wastedBytes', target: 'image', type: 'number', description: 'bytes of files that later layers delete or replace',
    extract: (ctx) => (h(ctx) ? [hit(h(ctx)!.wastedBytes, undefined, `${h(ctx)!.wastedBytes} bytes wasted`)] : undefined),
  },
  { name: 'check.id', target: 'check', type: 'string', description: 'hygiene check the scanner reported (GH-HYG-ROOT, GH-HYG-AGE, …)', extract: (ctx) => [hit(ctx.check!.id, undefined, ctx.check!.title)] },
  { name: 'check.severity', target: 'check', type: 'string', description: "the check's severity", extract: (ctx) => [hit(ctx.check!.severity, undefined, ctx.check!.title)] },
];
