/**
 * A `pods/exec` CONNECT: the API server sends the PodExecOptions (command, container, tty,
 * stdin) as request.object. These fields apply to that request only; on any other they are
 * not applicable, so no condition over them holds.
 */
import { hit, type FieldHit } from '../../policy/fields.js';
import type { AdmissionContext, FieldDef } from './context.js';

/** The PodExecOptions of a pods/exec request, or undefined for any other request. */
export function execOptionsOf(ctx: AdmissionContext): Record<string, unknown> | undefined {
  const r = ctx.request;
  if (r.resource.resource !== 'pods' || r.resource.group !== '' || r.subResource !== 'exec') return undefined;
  return r.object;
}

function execField(name: string, type: FieldDef['type'], description: string, read: (o: Record<string, unknown>) => FieldHit[]): FieldDef {
  return {
    name, target: 'request', type, description,
    extract: (ctx) => {
      const o = execOptionsOf(ctx);
      return o ? read(o) : undefined;
    },
  };
}

const commandOf = (o: Record<string, unknown>): string[] => (Array.isArray(o.command) ? o.command.map((c) => String(c)) : []);
/** kubectl omits false flags (omitempty): absent is false. */
const flag = (key: string) => (o: Record<string, unknown>): FieldHit[] => [hit(o[key] === true, ['request', 'object', key], o[key] === true ? `${key}: true` : undefined)];

export const execFields: FieldDef[] = [
  execField('exec.command', 'list', 'argv of a pods/exec request, one element each', (o) =>
    commandOf(o).map((c, i) => hit(c, ['request', 'object', 'command', i], `command ${JSON.stringify(commandOf(o).join(' '))}`))),
  execField('exec.commandLine', 'string', 'argv of a pods/exec request joined with spaces (for matches)', (o) => {
    const argv = commandOf(o);
    return argv.length ? [hit(argv.join(' '), ['request', 'object', 'command'], `command ${JSON.stringify(argv.join(' '))}`)] : [];
  }),
  execField('exec.container', 'string', 'container of a pods/exec request (unset: the default container)', (o) =>
    typeof o.container === 'string' && o.container !== '' ? [hit(o.container, ['request', 'object', 'container'], `container ${o.container}`)] : []),
  execField('exec.tty', 'boolean', 'whether a pods/exec request allocates a TTY (kubectl exec -t)', flag('tty')),
  execField('exec.stdin', 'boolean', 'whether a pods/exec request attaches stdin (kubectl exec -i)', flag('stdin')),
];
