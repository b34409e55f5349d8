/** Signature and trust facts: applicable only when verification was done (image scan --trust-policy). */
import { hit } from '../../policy/fields.js';
import type { ImageContext, ImageFieldDef } from './context.js';

const sig = (ctx: ImageContext) => ctx.facts.signature;

export const signatureFields: ImageFieldDef[] = [
  {
    name: 'image.signed', target: 'image', type: 'boolean', description: 'at least one signature verified with a trusted key (not applicable without verification)',
    extract: (ctx) => (sig(ctx) ? [hit(sig(ctx)!.signed, undefined, sig(ctx)!.signed ? `signed by ${sig(ctx)!.signers.join(', ')}` : (sig(ctx)!.reason ?? 'no valid signature'))] : undefined),
  },
  {
    name: 'image.signature.trusted', target: 'image', type: 'boolean', description: "the trust policy's decision: required signatures present, or an exempt rule",
    extract: (ctx) => (sig(ctx) ? [hit(sig(ctx)!.trusted, undefined, sig(ctx)!.reason ?? (sig(ctx)!.trusted ? 'trusted' : 'not trusted'))] : undefined),
  },
  { name: 'image.signature.signers', target: 'image', type: 'list', description: 'names of the keys whose signatures verified', extract: (ctx) => (sig(ctx) ? sig(ctx)!.signers.map((s) => hit(s)) : undefined) },
  { name: 'image.signature.rule', target: 'image', type: 'string', description: 'the trust-policy rule that matched', extract: (ctx) => (sig(ctx) ? (sig(ctx)!.rule ? [hit(sig(ctx)!.rule)] : []) : undefined) },
];
