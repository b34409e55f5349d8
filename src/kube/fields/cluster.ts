/** Fields relating objects to each other and cluster configuration (one entry per field). */
import { hit, present } from '../../policy/fields.js';
import type { EvalContext, FieldDef } from './context.js';
import { matchesSelector } from '../../policy/match.js';
import { nsOf } from '../object-index.js';
import { isIanaSvcName } from './container.js';

const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const is = (ctx: EvalContext, ...kinds: string[]) => kinds.includes(ctx.object.kind);

function podsSelectedBy(ctx: EvalContext, selector: Record<string, any> | undefined): number {
  return ctx.index.podTemplatesIn(nsOf(ctx.object)).filter((t) => matchesSelector(t.labels, selector ?? {})).length;
}

/** Values that look like credentials in ConfigMaps. */
const SECRET_KEY = /(secret|passw(or)?d|passwd|token|api[_-]?key|private[_-]?key|credential|access[_-]?key)/i;
const SECRET_VALUE = /(-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.)/;

/** `--flag=value` / `--flag value` of a kube-apiserver container (static pod manifest). */
function apiserverFlags(ctx: EvalContext): Map<string, { value: string; path: (string | number)[] }> | undefined {
  if (!ctx.pod) return undefined;
  for (const [ci, c] of list(ctx.pod.spec.containers).entries()) {
    const argv = [...list(c?.command).map(String), ...list(c?.args).map(String)];
    if (!argv.some((a) => /(^|\/)kube-apiserver$/.test(a))) continue;
    const flags = new Map<string, { value: string; path: (string | number)[] }>();
    const cmdLen = list(c?.command).length;
    argv.forEach((a, i) => {
      const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
      if (!m) return;
      const path = i < cmdLen ? [...ctx.pod!.specPath, 'containers', ci, 'command', i] : [...ctx.pod!.specPath, 'containers', ci, 'args', i - cmdLen];
      flags.set(m[1]!, { value: m[2] ?? (argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[i + 1]! : 'true'), path });
    });
    return flags;
  }
  return undefined;
}

const apiserverFlag = (flag: string, dflt: string | undefined, description: string): FieldDef => ({
  name: `apiserver.flag.${flag}`, target: 'object', type: 'string', description,
  extract: (ctx) => {
    const flags = apiserverFlags(ctx);
    if (!flags) return undefined;
    const f = flags.get(flag);
    if (f) return [hit(f.value, f.path, `--${flag}=${f.value}`)];
    return dflt === undefined ? [] : [hit(dflt, [...ctx.pod!.specPath, 'containers'], `--${flag} not set (defaults to ${dflt})`)];
  },
});

export const clusterFields: FieldDef[] = [
  {
    name: 'service.danglingSelector', target: 'object', type: 'boolean', description: 'a Service selector that matches no pod template in its namespace',
    extract: (ctx) => {
      if (!is(ctx, 'Service')) return undefined;
      const sel = ctx.object.raw.spec?.selector;
      if (!sel || typeof sel !== 'object' || Object.keys(sel).length === 0) return [];
      return podsSelectedBy(ctx, { matchLabels: sel }) === 0 ? [hit(true, ['spec', 'selector'], 'selector matches no pods')] : [];
    },
  },
  { name: 'service.type', target: 'object', type: 'string', description: 'Service type (default ClusterIP)', extract: (ctx) => (is(ctx, 'Service') ? [hit(String(ctx.object.raw.spec?.type ?? 'ClusterIP'), ['spec', 'type'], `Service type ${ctx.object.raw.spec?.type ?? 'ClusterIP'}`)] : undefined) },
  {
    name: 'service.invalidTargetPort', target: 'object', type: 'string', description: 'named targetPorts that are not valid IANA service names, or numbers out of range',
    extract: (ctx) => (is(ctx, 'Service') ? list(ctx.object.raw.spec?.ports).flatMap((p, i) => {
      const t = p?.targetPort;
      if (!present(t)) return [];
      const bad = typeof t === 'number' ? t < 1 || t > 65535 : !/^\d+$/.test(String(t)) && !isIanaSvcName(String(t));
      return bad ? [hit(String(t), ['spec', 'ports', i, 'targetPort'], `invalid targetPort ${t}`)] : [];
    }) : undefined),
  },
  {
    name: 'networkpolicy.dangling', target: 'object', type: 'boolean', description: 'a NetworkPolicy whose podSelector matches no pod template in its namespace',
    extract: (ctx) => (is(ctx, 'NetworkPolicy') && podsSelectedBy(ctx, ctx.object.raw.spec?.podSelector) === 0 ? [hit(true, ['spec', 'podSelector'], 'podSelector matches no pods')] : undefined),
  },
  {
    name: 'networkpolicy.danglingPeer', target: 'object', type: 'string', description: 'ingress/egress peers with a podSelector (same namespace) that matches no pods',
    extract: (ctx) => {
      if (!is(ctx, 'NetworkPolicy')) return undefined;
      const out = [];
      for (const dir of ['ingress', 'egress'] as const) {
        for (const [ri, rule] of list(ctx.object.raw.spec?.[dir]).entries()) {
          for (const [pi, peer] of list(rule?.[dir === 'ingress' ? 'from' : 'to']).entries()) {
            if (peer?.podSelector && !peer.namespaceSelector && podsSelectedBy(ctx, peer.podSelector) === 0) {
              out.push(hit(dir, ['spec', dir, ri, dir === 'ingress' ? 'from' : 'to', pi, 'podSelector'], `${dir} peer podSelector matches no pods`));
            }
          }
        }
      }
      return out;
    },
  },
  {
    name: 'ingress.tls', target: 'object', type: 'number', description: 'number of TLS entries of an Ingress',
    extract: (ctx) => (is(ctx, 'Ingress') ? [hit(list(ctx.object.raw.spec?.tls).length, ['spec'], list(ctx.object.raw.spec?.tls).length === 0 ? 'Ingress serves no TLS' : undefined)] : undefined),
  },
  {
    name: 'ingress.danglingBackend', target: 'object', type: 'string', description: 'Ingress backends naming a Service that the loaded objects do not define',
    extract: (ctx) => {
      if (!is(ctx, 'Ingress')) return undefined;
      const spec = ctx.object.raw.spec ?? {};
      const backends: { name: string; path: (string | number)[] }[] = [];
      const push = (b: any, path: (string | number)[]) => {
        const name = b?.service?.name ?? b?.serviceName;
        if (name) backends.push({ name: String(name), path });
      };
      push(spec.defaultBackend ?? spec.backend, ['spec', spec.defaultBackend ? 'defaultBackend' : 'backend']);
      list(spec.rules).forEach((r, ri) => list(r?.http?.paths).forEach((p, pi) => push(p?.backend, ['spec', 'rules', ri, 'http', 'paths', pi, 'backend'])));
      return backends.filter((b) => !ctx.index.find('Service', nsOf(ctx.object), b.name)).map((b) => hit(b.name, b.path, `backend Service ${b.name} not found`));
    },
  },
  {
    name: 'hpa.danglingTarget', target: 'object', type: 'string', description: 'HorizontalPodAutoscaler scaleTargetRef that the loaded objects do not define',
    extract: (ctx) => {
      if (!is(ctx, 'HorizontalPodAutoscaler')) return undefined;
      const ref = ctx.object.raw.spec?.scaleTargetRef;
      if (!ref?.kind || !ref?.name) return [];
      return ctx.index.find(String(ref.kind), nsOf(ctx.object), String(ref.name)) ? [] : [hit(`${ref.kind}/${ref.name}`, ['spec', 'scaleTargetRef'], `scale target ${ref.kind}/${ref.name} not found`)];
    },
  },
  {
    name: 'pdb.maxUnavailable', target: 'object', type: 'string', description: 'PodDisruptionBudget maxUnavailable',
    extract: (ctx) => (is(ctx, 'PodDisruptionBudget') && present(ctx.object.raw.spec?.maxUnavailable) ? [hit(String(ctx.object.raw.spec.maxUnavailable), ['spec', 'maxUnavailable'], `maxUnavailable ${ctx.object.raw.spec.maxUnavailable}`)] : undefined),
  },
  {
    name: 'pdb.minAvailableBlocksEviction', target: 'object', type: 'boolean', description: 'minAvailable (number or 100%) at least the replicas of a selected workload, so no pod can ever be evicted',
    extract: (ctx) => {
      if (!is(ctx, 'PodDisruptionBudget')) return undefined;
      const min = ctx.object.raw.spec?.minAvailable;
      if (!present(min)) return [];
      const sel = ctx.object.raw.spec?.selector ?? {};
      const ns = nsOf(ctx.object);
      for (const t of ctx.index.podTemplatesIn(ns)) {
        if (!matchesSelector(t.labels, sel)) continue;
        const replicas = present(t.object.raw.spec?.replicas) ? Number(t.object.raw.spec.replicas) : 1;
        const blocks = String(min).endsWith('%') ? parseInt(String(min), 10) >= 100 : Number(min) >= replicas;
        if (blocks) return [hit(true, ['spec', 'minAvailable'], `minAvailable ${min} >= replicas ${replicas} of ${t.object.kind} ${t.object.name}`)];
      }
      return [];
    },
  },
  {
    name: 'pdb.unhealthyPodEvictionPolicy', target: 'object', type: 'string', description: 'PodDisruptionBudget unhealthyPodEvictionPolicy ("" when unset)',
    extract: (ctx) => (is(ctx, 'PodDisruptionBudget') ? [hit(String(ctx.object.raw.spec?.unhealthyPodEvictionPolicy ?? ''), ['spec'], 'unhealthyPodEvictionPolicy not AlwaysAllow')] : undefined),
  },
  {
    name: 'namespace.resourceQuotas', target: 'object', type: 'number', description: 'ResourceQuotas defined for a Namespace object',
    extract: (ctx) => (is(ctx, 'Namespace') ? [hit(ctx.index.byKindIn('ResourceQuota', ctx.object.name).length, ['metadata', 'name'], 'namespace has no ResourceQuota')] : undefined),
  },
  {
    name: 'namespace.limitRanges', target: 'object', type: 'number', description: 'LimitRanges defined for a Namespace object',
    extract: (ctx) => (is(ctx, 'Namespace') ? [hit(ctx.index.byKindIn('LimitRange', ctx.object.name).length, ['metadata', 'name'], 'namespace has no LimitRange')] : undefined),
  },
  {
    name: 'configmap.secretEntries', target: 'object', type: 'string', description: 'ConfigMap keys whose name or value looks like a credential',
    extract: (ctx) => {
      if (!is(ctx, 'ConfigMap')) return undefined;
      const data = ctx.object.raw.data && typeof ctx.object.raw.data === 'object' ? ctx.object.raw.data : {};
      return Object.entries(data).flatMap(([k, v]) => {
        const val = String(v ?? '');
        const keyHit = SECRET_KEY.test(k) && val.trim() !== '' && !/^\$\{.*\}$/.test(val.trim());
        return keyHit || SECRET_VALUE.test(val) ? [hit(k, ['data', k], `ConfigMap key ${k} looks like a secret`)] : [];
      });
    },
  },
  apiserverFlag('anonymous-auth', 'true', 'kube-apiserver --anonymous-auth (default true)'),
  apiserverFlag('encryption-provider-config', undefined, 'kube-apiserver --encryption-provider-config'),
  apiserverFlag('audit-policy-file', undefined, 'kube-apiserver --audit-policy-file'),
  apiserverFlag('audit-log-path', undefined, 'kube-apiserver --audit-log-path'),
  apiserverFlag('authorization-mode', 'AlwaysAllow', 'kube-apiserver --authorization-mode'),
  apiserverFlag('profiling', 'true', 'kube-apiserver --profiling (default true)'),
  {
    name: 'apiserver.isApiserver', target: 'object', type: 'boolean', description: 'the object is a kube-apiserver static pod manifest',
    extract: (ctx) => (apiserverFlags(ctx) ? [hit(true)] : undefined),
  },
  {
    name: 'encryption.firstProvider', target: 'object', type: 'string', description: 'first (write) provider for each resource in an EncryptionConfiguration',
    extract: (ctx) => {
      if (!is(ctx, 'EncryptionConfiguration')) return undefined;
      return list(ctx.object.raw.resources).map((r, i) => {
        const first = list(r?.providers)[0];
        const name = first && typeof first === 'object' ? Object.keys(first)[0] ?? '' : '';
        return hit(name, ['resources', i, 'providers', 0], `resources ${list(r?.resources).join(',')} are written with provider "${name || 'none'}"`);
      });
    },
  },
  {
    name: 'audit.policyRules', target: 'object', type: 'number', description: 'rules in an audit Policy that log at a level other than None',
    extract: (ctx) => (is(ctx, 'Policy') && ctx.object.apiVersion.startsWith('audit.k8s.io/') ? [hit(list(ctx.object.raw.rules).filter((r) => r?.level && r.level !== 'None').length, ['rules'], 'audit policy logs nothing')] : undefined),
  },
];
