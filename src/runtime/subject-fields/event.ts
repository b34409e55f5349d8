/**
 * The common Falco fields of the process, user, container, Kubernetes pod, file descriptor
 * and event behind an alert. Each reads the alert's output_fields first, then the event
 * that triggered it (derivations as the rule engine does them). A field nobody knows is
 * not applicable (undefined): no condition over it holds, so an alert that does not say
 * which process ran never matches `proc.name notIn [...]` by accident. Registered fields
 * cannot be dynamic: a new one is one entry here.
 */
import { hit, type FieldHit } from '../../policy/fields.js';
import { falcoField, known, type FieldDef, type RuntimeContext } from './context.js';

const field = (name: string, type: 'string' | 'number', description: string, opts: { containerOnly?: boolean } = {}): FieldDef => {
  const read = falcoField(name);
  const path = ['output_fields', name];
  return {
    name, target: 'alert', type, description,
    extract: (ctx) => {
      if (opts.containerOnly && ctx.onHost) return undefined;
      const v = read(ctx.alert, ctx.event);
      if (!known(v) || Array.isArray(v)) return undefined;
      if (type === 'string') return [hit(String(v), path)];
      const n = Number(v);
      return Number.isFinite(n) ? [hit(n, path)] : undefined;
    },
  };
};

/** Ancestors' names from the parent up: the event's list, else proc.aname[N] output fields, else proc.pname. */
const readPname = falcoField('proc.pname');
function ancestors(ctx: RuntimeContext): FieldHit[] | undefined {
  const list = ctx.event?.['proc.aname'];
  if (Array.isArray(list)) {
    const names = (list as unknown[]).filter((x) => x !== null && x !== undefined && x !== '').map(String);
    if (names.length) return names.map((n) => hit(n, ['output_fields', 'proc.aname']));
  }
  // A Falco alert names ancestors one by one: proc.pname or proc.aname[1], proc.aname[2], …
  const out: FieldHit[] = [];
  const fields = ctx.alert.output_fields;
  const pname = known(fields['proc.aname[1]']) ? fields['proc.aname[1]'] : readPname(ctx.alert, ctx.event);
  if (known(pname)) out.push(hit(String(pname), ['output_fields', 'proc.pname']));
  for (let i = 2; i < 64; i++) {
    const key = `proc.aname[${i}]`;
    const v = fields[key] ?? ctx.event?.[key];
    if (v === undefined) break;
    if (known(v)) out.push(hit(String(v), ['output_fields', key]));
  }
  return out.length ? out : undefined;
}

export const eventFields: FieldDef[] = [
  field('evt.type', 'string', 'event (system call) that triggered the rule: execve, openat, connect, …'),
  field('proc.name', 'string', 'process name (comm)'),
  field('proc.exepath', 'string', 'full path of the executable'),
  field('proc.cmdline', 'string', 'process name and arguments'),
  field('proc.pname', 'string', 'parent process name'),
  {
    name: 'proc.aname', target: 'alert', type: 'list', description: 'names of the ancestors, parent first (a condition holds when one does)',
    extract: ancestors,
  },
  field('user.name', 'string', 'user name'),
  field('user.uid', 'number', 'user id'),
  field('container.id', 'string', "container id ('host' for processes outside containers)"),
  field('container.name', 'string', 'container name (not applicable on the host)', { containerOnly: true }),
  field('container.image', 'string', 'image reference of the container (not applicable on the host)', { containerOnly: true }),
  field('container.image.repository', 'string', 'image repository of the container (not applicable on the host)', { containerOnly: true }),
  field('container.image.tag', 'string', 'image tag of the container (not applicable on the host)', { containerOnly: true }),
  field('k8s.ns.name', 'string', 'Kubernetes namespace of the pod (when the source knows it)', { containerOnly: true }),
  field('k8s.pod.name', 'string', 'Kubernetes pod name (when the source knows it)', { containerOnly: true }),
  field('fd.name', 'string', 'file path or connection tuple of the file descriptor'),
  field('fd.sip', 'string', 'server IP of a connection'),
  field('fd.sport', 'number', 'server port of a connection'),
];
