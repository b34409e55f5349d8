/** Fields of each secret found (target `secret`): the rule and where, never the value. */
import { hit, present } from '../../policy/fields.js';
import type { ImageContext, ImageFieldDef } from './context.js';

const s = (ctx: ImageContext) => ctx.secret!;
const opt = (x: unknown, note?: string) => (present(x) && x !== '' ? [hit(x, undefined, note)] : []);

export const secretFields: ImageFieldDef[] = [
  { name: 'image.secrets', target: 'image', type: 'number', description: 'number of secrets found (files and environment)', extract: (ctx) => [hit(ctx.facts.secrets.length, undefined, `${ctx.facts.secrets.length} secret(s)`)] },
  { name: 'secret.rule', target: 'secret', type: 'string', description: 'the rule that matched (private-key, aws-access-key-id, secret-in-env, …)', extract: (ctx) => [hit(s(ctx).rule)] },
  { name: 'secret.severity', target: 'secret', type: 'string', description: "the rule's severity", extract: (ctx) => [hit(s(ctx).severity)] },
  { name: 'secret.path', target: 'secret', type: 'string', description: 'file holding the secret (unset for one in the environment)', extract: (ctx) => opt(s(ctx).path) },
  { name: 'secret.env', target: 'secret', type: 'string', description: 'environment variable holding the secret (config ENV)', extract: (ctx) => opt(s(ctx).env) },
  { name: 'secret.layer', target: 'secret', type: 'number', description: 'index of the layer holding the file', extract: (ctx) => opt(s(ctx).layer) },
];
