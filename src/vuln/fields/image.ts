/** Fields of the image itself: its name, age and OS, and vulnerability counts. One entry per field. */
import { hit, present } from '../../policy/fields.js';
import { daysSince, type ImageContext, type ImageFieldDef } from './context.js';

const opt = (v: unknown, note?: string) => (present(v) && v !== '' ? [hit(v, undefined, note)] : []);
const count = (ctx: ImageContext, pred: (v: ImageContext['facts']['vulnerabilities'][number]) => boolean) => ctx.facts.vulnerabilities.filter(pred).length;

function vulnCount(name: string, description: string, pred: (v: ImageContext['facts']['vulnerabilities'][number]) => boolean): ImageFieldDef {
  return {
    name, target: 'image', type: 'number', description,
    extract: (ctx) => {
      const n = count(ctx, pred);
      return [hit(n, undefined, `${n} ${description.replace(/^number of /, '')}`)];
    },
  };
}

export const imageFields: ImageFieldDef[] = [
  { name: 'image.ref', target: 'image', type: 'string', description: 'the reference as given (REF, or the scanned directory)', extract: (ctx) => [hit(ctx.facts.ref)] },
  { name: 'image.registry', target: 'image', type: 'string', description: 'registry host (registry references only)', extract: (ctx) => opt(ctx.facts.registry) },
  { name: 'image.repository', target: 'image', type: 'string', description: 'repository path inside the registry (e.g. library/nginx)', extract: (ctx) => opt(ctx.facts.repository) },
  { name: 'image.tag', target: 'image', type: 'string', description: 'tag of the reference, if any', extract: (ctx) => opt(ctx.facts.tag, `tag "${ctx.facts.tag}"`) },
  { name: 'image.digest', target: 'image', type: 'string', description: 'manifest digest (config digest for archives and daemons)', extract: (ctx) => opt(ctx.facts.digest) },
  {
    name: 'image.ageDays', target: 'image', type: 'number', description: 'whole days since the image was created (not applicable when unknown)',
    extract: (ctx) => {
      const d = daysSince(ctx.facts.created, ctx.nowMs);
      return d === undefined ? undefined : [hit(d, undefined, `image is ${d} days old (created ${ctx.facts.created})`)];
    },
  },
  { name: 'image.os', target: 'image', type: 'string', description: 'OS id from os-release (debian, alpine, …)', extract: (ctx) => opt(ctx.facts.os?.id) },
  { name: 'image.os.version', target: 'image', type: 'string', description: 'OS VERSION_ID', extract: (ctx) => opt(ctx.facts.os?.versionId) },
  { name: 'image.layers', target: 'image', type: 'number', description: 'number of layers (not applicable for a directory)', extract: (ctx) => (ctx.facts.layers ? [hit(ctx.facts.layers.length)] : undefined) },
  vulnCount('image.vulnerabilities.total', 'number of vulnerabilities (after the ignore file and VEX)', () => true),
  vulnCount('image.vulnerabilities.critical', 'number of CRITICAL vulnerabilities', (v) => v.severity === 'CRITICAL'),
  vulnCount('image.vulnerabilities.high', 'number of HIGH vulnerabilities', (v) => v.severity === 'HIGH'),
  vulnCount('image.vulnerabilities.fixable', 'number of vulnerabilities with a fixed version', (v) => !!v.fixedVersion),
  vulnCount('image.vulnerabilities.fixableCritical', 'number of CRITICAL vulnerabilities with a fixed version', (v) => v.severity === 'CRITICAL' && !!v.fixedVersion),
];
