/** Fields of each component (package) in the inventory (target `component`). */
import { hit, present } from '../../policy/fields.js';
import type { ImageContext, ImageFieldDef } from './context.js';

const c = (ctx: ImageContext) => ctx.component!;
const opt = (x: unknown, note?: string) => (present(x) && x !== '' ? [hit(x, undefined, note)] : []);

export const componentFields: ImageFieldDef[] = [
  { name: 'component.name', target: 'component', type: 'string', description: 'package name', extract: (ctx) => [hit(c(ctx).name, undefined, `${c(ctx).name} ${c(ctx).version}`)] },
  { name: 'component.version', target: 'component', type: 'string', description: 'installed version', extract: (ctx) => opt(c(ctx).version) },
  { name: 'component.type', target: 'component', type: 'string', description: 'package type (purl type: deb, apk, rpm, npm, pypi, golang, maven, …)', extract: (ctx) => opt(c(ctx).type) },
  { name: 'component.purl', target: 'component', type: 'string', description: 'package URL', extract: (ctx) => opt(c(ctx).purl) },
  { name: 'component.licenses', target: 'component', type: 'list', description: 'declared licences (SPDX ids or names)', extract: (ctx) => (c(ctx).licenses ?? []).map((l) => hit(l, undefined, `licence ${l}`)) },
  { name: 'component.path', target: 'component', type: 'string', description: 'file the package was found in', extract: (ctx) => opt(c(ctx).path) },
  { name: 'component.layer', target: 'component', type: 'number', description: 'index of the layer that introduced it', extract: (ctx) => opt(c(ctx).layer) },
];
