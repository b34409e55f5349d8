/**
 * Istio AuthorizationPolicy suggestions (`security.istio.io/v1`, action ALLOW) from observed
 * API calls: per destination workload one policy, per caller one rule allowing exactly the
 * method + path templates that caller was seen using.
 *
 * Path templates: the query string and fragment are dropped, then every path segment that
 * looks like an identifier becomes `*`: all digits (`/items/42`), a UUID, a hex string of
 * 16+ characters (hashes, object ids), or an opaque token of 20+ characters of
 * `[A-Za-z0-9_-]` holding both letters and digits. Other segments stay literal (a word
 * segment is an API noun, not an id). In the Istio policy a `*` segment is written `{*}`
 * (Istio's path template, exactly one segment; Istio 1.22 or later), so `/items/*` does not
 * open `/items/42/admin`.
 *
 * Exactness: a rule's `to` lists one operation per distinct method set, with the paths seen
 * with exactly that set, so a method seen on one path is not opened on another. Callers
 * with the same operations share a rule. Callers are SPIFFE principals when the log carries
 * them (mTLS), else client addresses (`ipBlocks`); calls with no caller at all make a rule
 * without `from` (any source), noted.
 *
 * Calls answered 401, 403, 404, 405 or never answered (0) are not turned into allows: they
 * were refused, scanned for, or aborted — a suggestion must not bless them.
 */
import { stringify } from 'yaml';
import type { ClusterModel } from '../../kube/netpol/model.js';
import type { ApiCall, Caller, ParsedLog } from './access-log.js';
import { parseAccessLog } from './access-log.js';

export const REFUSED_STATUSES = new Set([0, 401, 403, 404, 405]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isIdSegment(seg: string): boolean {
  if (seg === '') return false;
  if (/^\d+$/.test(seg)) return true;
  if (UUID.test(seg)) return true;
  if (seg.length >= 16 && /^[0-9a-f]+$/i.test(seg) && /\d/.test(seg)) return true;
  if (seg.length >= 20 && /^[A-Za-z0-9_-]+$/.test(seg) && /\d/.test(seg) && /[A-Za-z]/.test(seg)) return true;
  return false;
}

/** `/items/42?x=1` → `/items/*`. */
export function pathTemplate(path: string): string {
  const p = path.startsWith('/') ? path : `/${path}`;
  return p
    .split('/')
    .map((s) => (isIdSegment(s) ? '*' : s))
    .join('/');
}

/** The template in Istio's path syntax: `*` segments as `{*}`. */
export function istioPath(template: string): string {
  return template
    .split('/')
    .map((s) => (s === '*' ? '{*}' : s))
    .join('/');
}

export interface ObservedOperation {
  destination: string;
  caller: Caller;
  method: string;
  template: string;
  count: number;
}

export interface AuthzResult {
  policies: Record<string, any>[];
  yaml: string;
  operations: ObservedOperation[];
  counts: { lines: number; calls: number; malformed: number; skipped: number; refused: number; policies: number };
  malformed: number;
  malformedSamples: string[];
  notes: string[];
}

const callerKey = (c: Caller): string => `${c.kind}:${c.value}`;

function policyName(dest: string): string {
  const name = dest.includes('/') ? dest.slice(dest.indexOf('/') + 1) : dest;
  const base = `gatehouse-l7-${name}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  return base.length <= 253 ? base : base.slice(0, 253).replace(/[-.]+$/, '');
}

export interface AuthzOptions {
  /**
   * The pod labels a destination (`ns/name`, a Service or a workload) selects, from the
   * manifests; undefined: the selector falls back on `app: <name>` (noted).
   */
  selectorOf?: (destination: string) => Record<string, string> | undefined;
  /**
   * principal (default): one rule per SPIFFE principal; namespace: principals are widened to
   * their namespace (Istio `source.namespaces`, from `…/ns/NS/sa/…`), coarser but steadier
   * when service accounts change.
   */
  source?: 'principal' | 'namespace';
}

/** `td/ns/NS/sa/SA` → NS. */
export function namespaceOfPrincipal(p: string): string | undefined {
  return /\/ns\/([^/]+)\/sa\//.exec(`/${p}`)?.[1];
}

/** Suggestions from parsed calls. */
export function authzFromCalls(input: ApiCall[], opts: AuthzOptions = {}): { policies: Record<string, any>[]; operations: ObservedOperation[]; refused: number; notes: string[] } {
  const notes: string[] = [];
  let refused = 0;
  const calls = opts.source === 'namespace'
    ? input.map((c) => {
      const ns = c.caller.kind === 'principal' ? namespaceOfPrincipal(c.caller.value) : undefined;
      return ns ? { ...c, caller: { kind: 'namespace' as const, value: ns } } : c;
    })
    : input;
  // destination -> caller -> template -> methods (with counts)
  const byDest = new Map<string, Map<string, { caller: Caller; ops: Map<string, Map<string, number>> }>>();
  for (const c of calls) {
    if (c.status !== undefined && REFUSED_STATUSES.has(c.status)) {
      refused++;
      continue;
    }
    let callers = byDest.get(c.destination);
    if (!callers) byDest.set(c.destination, (callers = new Map()));
    let entry = callers.get(callerKey(c.caller));
    if (!entry) callers.set(callerKey(c.caller), (entry = { caller: c.caller, ops: new Map() }));
    const t = pathTemplate(c.path);
    let methods = entry.ops.get(t);
    if (!methods) entry.ops.set(t, (methods = new Map()));
    methods.set(c.method, (methods.get(c.method) ?? 0) + 1);
  }
  const policies: Record<string, any>[] = [];
  const operations: ObservedOperation[] = [];
  for (const dest of [...byDest.keys()].sort()) {
    const callers = byDest.get(dest)!;
    // Per caller: the `to` list (one operation per method set); callers with equal lists share a rule.
    const rules = new Map<string, { to: Record<string, any>[]; callers: Caller[] }>();
    for (const key of [...callers.keys()].sort()) {
      const { caller, ops } = callers.get(key)!;
      const byMethods = new Map<string, string[]>();
      for (const t of [...ops.keys()].sort()) {
        const methods = [...ops.get(t)!.keys()].sort();
        for (const m of methods) operations.push({ destination: dest, caller, method: m, template: t, count: ops.get(t)!.get(m)! });
        const k = methods.join(',');
        byMethods.set(k, [...(byMethods.get(k) ?? []), istioPath(t)]);
      }
      const to = [...byMethods.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([m, paths]) => ({ operation: { methods: m.split(','), paths } }));
      const rk = JSON.stringify(to);
      const r = rules.get(rk);
      if (r) r.callers.push(caller);
      else rules.set(rk, { to, callers: [caller] });
    }
    const ruleList = [...rules.values()].map(({ to, callers: cs }) => {
      const principals = cs.filter((c) => c.kind === 'principal').map((c) => c.value);
      const namespaces = cs.filter((c) => c.kind === 'namespace').map((c) => c.value);
      const ips = cs.filter((c) => c.kind === 'ip').map((c) => c.value);
      const from: Record<string, any>[] = [];
      if (principals.length) from.push({ source: { principals } });
      if (namespaces.length) from.push({ source: { namespaces } });
      if (ips.length) from.push({ source: { ipBlocks: ips } });
      if (cs.some((c) => c.kind === 'unknown')) {
        notes.push(`${dest}: some calls carry no caller identity or address: their rule allows any source`);
        return { to };
      }
      return { from, to };
    });
    const [ns, name] = dest.includes('/') ? (dest.split('/', 2) as [string, string]) : [undefined, dest];
    if (!ns) notes.push(`${dest}: no namespace known for this destination: the policy has none (give --destination NS/NAME)`);
    let matchLabels = opts.selectorOf?.(dest);
    if (!matchLabels || Object.keys(matchLabels).length === 0) {
      matchLabels = { app: name };
      notes.push(`${dest}: the selector assumes the pods carry app=${name}; adjust it to the workload's labels (or give the manifests)`);
    }
    policies.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: policyName(dest), ...(ns ? { namespace: ns } : {}), annotations: { 'gatehouse.dev/generated-from': 'access-logs' } },
      spec: { selector: { matchLabels: { ...matchLabels } }, action: 'ALLOW', rules: ruleList },
    });
  }
  if (policies.length) notes.push('paths use Istio path templates ({*} = one segment): Istio 1.22 or later');
  return { policies, operations, refused, notes: [...new Set(notes)] };
}

/** Reads access logs and suggests policies. */
export function authzFromAccessLogs(logs: { file: string; text: string }[], opts: { destination?: string } & AuthzOptions = {}): AuthzResult {
  const parsed: ParsedLog[] = logs.map((l) => parseAccessLog(l.text, l.file, opts));
  const calls = parsed.flatMap((p) => p.calls);
  const { policies, operations, refused, notes } = authzFromCalls(calls, opts);
  const malformed = parsed.reduce((n, p) => n + p.malformed, 0);
  const yaml = policies.length
    ? `# Suggested by gatehouse from observed API calls (netpol authz): review before applying.\n${policies.map((p) => stringify(p, { lineWidth: 0 })).join('---\n')}`
    : '# No API calls observed: no AuthorizationPolicy suggested.\n';
  return {
    policies,
    yaml,
    operations,
    counts: {
      lines: parsed.reduce((n, p) => n + p.lines, 0),
      calls: calls.length,
      malformed,
      skipped: parsed.reduce((n, p) => n + p.skipped, 0),
      refused,
      policies: policies.length,
    },
    malformed,
    malformedSamples: parsed.flatMap((p) => p.malformedSamples).slice(0, 5),
    notes: [...notes, ...parsed.flatMap((p) => p.notes)],
  };
}

/** The JSON document of `netpol authz --format json`. */
export function authzJson(r: AuthzResult): Record<string, unknown> {
  return { policies: r.policies, operations: r.operations, counts: r.counts, malformedSamples: r.malformedSamples, notes: r.notes };
}

/**
 * Destinations resolved against manifests: `ns/name` of a Service with a selector gives that
 * selector; a workload of that name gives its pod labels.
 */
export function selectorsFromModel(model: ClusterModel): (destination: string) => Record<string, string> | undefined {
  return (dest) => {
    const i = dest.indexOf('/');
    if (i < 0) return undefined;
    const ns = dest.slice(0, i);
    const name = dest.slice(i + 1);
    const svc = model.services.find((s) => s.namespace === ns && s.name === name);
    if (svc?.selector && Object.keys(svc.selector).length) return { ...svc.selector };
    const ws = model.workloads.filter((w) => !w.synthetic && w.namespace === ns && w.name === name);
    return ws.length === 1 && Object.keys(ws[0]!.labels).length ? { ...ws[0]!.labels } : undefined;
  };
}
