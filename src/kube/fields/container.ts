/** Fields evaluated per container (init, regular and ephemeral). One entry per field. */
import { hit, present, type FieldHit } from '../../policy/fields.js';
import type { EvalContext, FieldDef } from './context.js';
import type { FieldPath } from '../manifests.js';
import { parseImageRef } from '../images.js';
import { isRuntimeSocketMount } from '../../util/host-paths.js';

const c = (ctx: EvalContext) => ctx.container!.container;
const cp = (ctx: EvalContext, ...rest: (string | number)[]): FieldPath => [...ctx.container!.path, ...rest];
const sc = (ctx: EvalContext): Record<string, any> => (c(ctx).securityContext && typeof c(ctx).securityContext === 'object' ? c(ctx).securityContext : {});
const podSc = (ctx: EvalContext): Record<string, any> => (ctx.pod?.spec.securityContext && typeof ctx.pod.spec.securityContext === 'object' ? ctx.pod.spec.securityContext : {});
const scField = (name: string, key: string, description: string, type: FieldDef['type'] = 'any'): FieldDef => ({
  name, target: 'container', type, description,
  extract: (ctx) => (present(sc(ctx)[key]) ? [hit(sc(ctx)[key], cp(ctx, 'securityContext', key))] : []),
});
const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);

/** Env var names that suggest a credential (kube-linter's env-var-secret uses a similar pattern). */
const SECRET_NAME = /(secret|passw(or)?d|passwd|token|api[_-]?key|private[_-]?key|credential|access[_-]?key)/i;

function hostPathMounts(ctx: EvalContext): { mountIndex: number; path: string; readOnly: boolean }[] {
  const vols = new Map<string, string>();
  for (const v of list(ctx.pod?.spec.volumes)) if (v?.hostPath && typeof v.hostPath === 'object') vols.set(String(v.name), String(v.hostPath.path ?? ''));
  const out: { mountIndex: number; path: string; readOnly: boolean }[] = [];
  list(c(ctx).volumeMounts).forEach((m, i) => {
    const hp = vols.get(String(m?.name));
    if (hp !== undefined) out.push({ mountIndex: i, path: hp, readOnly: m.readOnly === true });
  });
  return out;
}

function probePorts(ctx: EvalContext, probe: string): FieldHit[] {
  const p = c(ctx)[probe];
  if (!p || typeof p !== 'object') return [];
  const ports = list(c(ctx).ports);
  const out: FieldHit[] = [];
  for (const kind of ['httpGet', 'tcpSocket', 'grpc']) {
    const port = p[kind]?.port;
    if (!present(port)) continue;
    const known = typeof port === 'number' || /^\d+$/.test(String(port))
      ? ports.some((x) => Number(x?.containerPort) === Number(port))
      : ports.some((x) => x?.name === port);
    if (!known) out.push(hit(port, cp(ctx, probe, kind, 'port'), `${probe} port ${port} is not a declared container port`));
  }
  return out;
}

const resource = (name: string, kind: 'requests' | 'limits', res: 'cpu' | 'memory'): FieldDef => ({
  name, target: 'container', type: 'string', description: `container resources.${kind}.${res}`,
  extract: (ctx) => {
    const v = c(ctx).resources?.[kind]?.[res];
    return present(v) && String(v) !== '0' ? [hit(String(v), cp(ctx, 'resources', kind, res))] : [];
  },
});

export const containerFields: FieldDef[] = [
  { name: 'container.name', target: 'container', type: 'string', description: 'container name', extract: (ctx) => [hit(String(c(ctx).name ?? ''), cp(ctx, 'name'))] },
  { name: 'container.type', target: 'container', type: 'string', description: 'containers | initContainers | ephemeralContainers', extract: (ctx) => [hit(ctx.container!.kind)] },
  { name: 'container.image', target: 'container', type: 'string', description: 'image reference as written', extract: (ctx) => [hit(String(c(ctx).image ?? ''), cp(ctx, 'image'))] },
  {
    name: 'container.image.tag', target: 'container', type: 'string', description: 'image tag ("" when untagged, "latest" when latest)',
    extract: (ctx) => {
      const ref = parseImageRef(String(c(ctx).image ?? ''));
      return [hit(ref.tag ?? '', cp(ctx, 'image'), ref.tag ? `image tag "${ref.tag}"` : 'image has no tag')];
    },
  },
  {
    name: 'container.image.digest', target: 'container', type: 'string', description: 'image digest, when pinned by digest',
    extract: (ctx) => {
      const d = parseImageRef(String(c(ctx).image ?? '')).digest;
      return d ? [hit(d, cp(ctx, 'image'))] : [];
    },
  },
  scField('container.securityContext.privileged', 'privileged', 'securityContext.privileged', 'boolean'),
  scField('container.securityContext.readOnlyRootFilesystem', 'readOnlyRootFilesystem', 'securityContext.readOnlyRootFilesystem', 'boolean'),
  scField('container.securityContext.procMount', 'procMount', 'securityContext.procMount', 'string'),
  {
    name: 'container.privilegeEscalation', target: 'container', type: 'boolean',
    description: 'whether the process can gain privileges: allowPrivilegeEscalation true, or unset with privileged/CAP_SYS_ADMIN',
    extract: (ctx) => {
      const s = sc(ctx);
      if (s.allowPrivilegeEscalation === true) return [hit(true, cp(ctx, 'securityContext', 'allowPrivilegeEscalation'), 'allowPrivilegeEscalation is true')];
      if (s.allowPrivilegeEscalation === false) return [hit(false)];
      if (s.privileged === true) return [hit(true, cp(ctx, 'securityContext', 'privileged'), 'privileged implies privilege escalation')];
      if (list(s.capabilities?.add).some((x) => /^(CAP_)?SYS_ADMIN$/i.test(String(x)))) {
        return [hit(true, cp(ctx, 'securityContext', 'capabilities', 'add'), 'CAP_SYS_ADMIN implies privilege escalation')];
      }
      return [hit(false)];
    },
  },
  {
    name: 'container.runsAsNonRoot', target: 'container', type: 'boolean',
    description: 'runAsNonRoot true or a non-zero runAsUser, on the container or inherited from the pod',
    extract: (ctx) => {
      const s = sc(ctx);
      const p = podSc(ctx);
      const nonRoot = s.runAsNonRoot ?? p.runAsNonRoot;
      const user = s.runAsUser ?? p.runAsUser;
      const ok = (present(user) && Number(user) > 0) || (nonRoot === true && !(present(user) && Number(user) === 0));
      return [hit(ok, cp(ctx, 'securityContext'), ok ? undefined : 'container may run as root (no runAsNonRoot: true or non-zero runAsUser)')];
    },
  },
  {
    name: 'container.capabilities.add', target: 'container', type: 'list', description: 'added capabilities (normalized, without CAP_)',
    extract: (ctx) => list(sc(ctx).capabilities?.add).map((x, i) => hit(String(x).toUpperCase().replace(/^CAP_/, ''), cp(ctx, 'securityContext', 'capabilities', 'add', i), `adds capability ${x}`)),
  },
  {
    name: 'container.capabilities.drop', target: 'container', type: 'list', description: 'dropped capabilities (normalized, without CAP_)',
    extract: (ctx) => list(sc(ctx).capabilities?.drop).map((x, i) => hit(String(x).toUpperCase().replace(/^CAP_/, ''), cp(ctx, 'securityContext', 'capabilities', 'drop', i))),
  },
  resource('container.resources.requests.cpu', 'requests', 'cpu'),
  resource('container.resources.limits.cpu', 'limits', 'cpu'),
  resource('container.resources.requests.memory', 'requests', 'memory'),
  resource('container.resources.limits.memory', 'limits', 'memory'),
  ...(['livenessProbe', 'readinessProbe', 'startupProbe'] as const).map((p): FieldDef => ({
    name: `container.${p}`, target: 'container', type: 'any', description: `container ${p}`,
    extract: (ctx) => (c(ctx)[p] && typeof c(ctx)[p] === 'object' ? [hit(true, cp(ctx, p))] : []),
  })),
  ...(['livenessProbe', 'readinessProbe', 'startupProbe'] as const).map((p): FieldDef => ({
    name: `container.${p}.undeclaredPort`, target: 'container', type: 'any', description: `${p} port that the container does not declare`,
    extract: (ctx) => probePorts(ctx, p),
  })),
  {
    name: 'container.ports.containerPort', target: 'container', type: 'number', description: 'declared container ports',
    extract: (ctx) => list(c(ctx).ports).filter((p) => present(p?.containerPort)).map((p) => hit(Number(p.containerPort), cp(ctx, 'ports', list(c(ctx).ports).indexOf(p), 'containerPort'), `container port ${p.containerPort}`)),
  },
  {
    name: 'container.ports.hostPort', target: 'container', type: 'number', description: 'host ports (non-zero)',
    extract: (ctx) => list(c(ctx).ports).flatMap((p, i) => (present(p?.hostPort) && Number(p.hostPort) !== 0 ? [hit(Number(p.hostPort), cp(ctx, 'ports', i, 'hostPort'), `host port ${p.hostPort}`)] : [])),
  },
  {
    name: 'container.ports.invalidName', target: 'container', type: 'string', description: 'port names that are not valid IANA service names',
    extract: (ctx) => list(c(ctx).ports).flatMap((p, i) => (present(p?.name) && !isIanaSvcName(String(p.name)) ? [hit(String(p.name), cp(ctx, 'ports', i, 'name'), `invalid port name "${p.name}"`)] : [])),
  },
  {
    name: 'container.env.literalSecret', target: 'container', type: 'string', description: 'env vars whose name suggests a secret and that hold a literal value',
    extract: (ctx) => list(c(ctx).env).flatMap((e, i) => (SECRET_NAME.test(String(e?.name ?? '')) && typeof e?.value === 'string' && e.value !== '' ? [hit(String(e.name), cp(ctx, 'env', i, 'value'), `env ${e.name} holds a literal secret`)] : [])),
  },
  {
    name: 'container.env.secretKeyRef', target: 'container', type: 'string', description: 'env vars read from Secrets (valueFrom.secretKeyRef or envFrom.secretRef)',
    extract: (ctx) => [
      ...list(c(ctx).env).flatMap((e, i) => (e?.valueFrom?.secretKeyRef ? [hit(String(e.name), cp(ctx, 'env', i, 'valueFrom', 'secretKeyRef'), `env ${e.name} reads Secret ${e.valueFrom.secretKeyRef.name ?? ''} (mount it as a file instead)`)] : [])),
      ...list(c(ctx).envFrom).flatMap((e, i) => (e?.secretRef ? [hit(String(e.secretRef.name ?? ''), cp(ctx, 'envFrom', i, 'secretRef'), `envFrom reads Secret ${e.secretRef.name ?? ''} (mount it as a file instead)`)] : [])),
    ],
  },
  {
    name: 'container.env.duplicateName', target: 'container', type: 'string', description: 'env var names defined more than once',
    extract: (ctx) => {
      const seen = new Set<string>();
      return list(c(ctx).env).flatMap((e, i) => {
        const n = String(e?.name ?? '');
        if (seen.has(n)) return [hit(n, cp(ctx, 'env', i, 'name'), `env ${n} is defined twice`)];
        seen.add(n);
        return [];
      });
    },
  },
  {
    name: 'container.hostMounts', target: 'container', type: 'string', description: 'host paths mounted into the container',
    extract: (ctx) => hostPathMounts(ctx).map((m) => hit(m.path, cp(ctx, 'volumeMounts', m.mountIndex), `mounts host path ${m.path}${m.readOnly ? ' read-only' : ''}`)),
  },
  {
    name: 'container.hostMounts.writable', target: 'container', type: 'string', description: 'host paths mounted writable',
    extract: (ctx) => hostPathMounts(ctx).filter((m) => !m.readOnly).map((m) => hit(m.path, cp(ctx, 'volumeMounts', m.mountIndex), `mounts host path ${m.path} writable`)),
  },
  {
    name: 'container.hostMounts.runtimeSocket', target: 'container', type: 'string', description: 'container runtime sockets (docker, containerd, CRI-O, podman) mounted from the host',
    extract: (ctx) => hostPathMounts(ctx).filter((m) => isRuntimeSocketMount(m.path)).map((m) => hit(m.path, cp(ctx, 'volumeMounts', m.mountIndex), `mounts container runtime socket ${m.path}`)),
  },
];

/** IANA_SVC_NAME as Kubernetes validates port names: 1-15 chars, a-z0-9-, a letter, no leading/trailing/double '-'. */
export function isIanaSvcName(n: string): boolean {
  return n.length >= 1 && n.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n) && /[a-z]/.test(n) && !n.includes('--');
}
