/**
 * Audit Policy (audit.k8s.io/v1): the level the first matching rule gives to a request, and
 * the requests CIS 3.2.2 names (Secrets/ConfigMaps/TokenReviews at Metadata only, Pod and
 * Deployment changes, exec/portforward/proxy, Metadata at least for the rest).
 */
import { parseDocument } from 'yaml';

const LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
type Level = (typeof LEVELS)[number];
const rank = (l: Level) => LEVELS.indexOf(l);

interface Rule {
  level: Level;
  verbs?: string[];
  resources?: { group: string; resources: string[]; resourceNames?: string[] }[];
  /** Applies to some users or namespaces only: not to every request. */
  narrowed: boolean;
  nonResourceOnly: boolean;
}

export interface AuditRequest {
  name: string;
  group: string;
  resource: string;
  verb: string;
}

export function parseAuditPolicy(text: string): Rule[] {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const p = doc.toJS() as any;
  if (p?.kind !== 'Policy') throw new Error(`kind is ${JSON.stringify(p?.kind)}, expected Policy`);
  if (!Array.isArray(p.rules) || p.rules.length === 0) throw new Error('the policy has no rules: nothing is logged');
  return p.rules.map((r: any, i: number) => {
    if (!LEVELS.includes(r?.level)) throw new Error(`rules[${i}]: level ${JSON.stringify(r?.level)} is not one of ${LEVELS.join(', ')}`);
    return {
      level: r.level,
      verbs: Array.isArray(r.verbs) ? r.verbs.map(String) : undefined,
      resources: Array.isArray(r.resources) ? r.resources.map((g: any) => ({ group: String(g?.group ?? ''), resources: Array.isArray(g?.resources) ? g.resources.map(String) : [], resourceNames: Array.isArray(g?.resourceNames) ? g.resourceNames : undefined })) : undefined,
      narrowed: !!(r.users?.length || r.userGroups?.length || r.namespaces?.length),
      nonResourceOnly: Array.isArray(r.nonResourceURLs) && !r.resources,
    } satisfies Rule;
  });
}

function matches(rule: Rule, req: AuditRequest): boolean {
  if (rule.narrowed || rule.nonResourceOnly) return false;
  if (rule.verbs && !rule.verbs.includes(req.verb) && !rule.verbs.includes('*')) return false;
  if (!rule.resources) return true;
  return rule.resources.some((g) => {
    if (g.resourceNames?.length) return false;
    if (g.group !== req.group && g.group !== '*') return false;
    if (g.resources.length === 0) return true;
    return g.resources.some((r) => r === req.resource || r === '*' || (r === '*/*' && req.resource.includes('/')) || (r.endsWith('/*') && req.resource.startsWith(r.slice(0, -1))) || (r.startsWith('*/') && req.resource.endsWith(r.slice(1))));
  });
}

export function levelFor(rules: Rule[], req: AuditRequest): { level: Level; rule?: number } {
  const i = rules.findIndex((r) => matches(r, req));
  return i < 0 ? { level: 'None' } : { level: rules[i]!.level, rule: i };
}

const req = (name: string, group: string, resource: string, verb: string): AuditRequest => ({ name, group, resource, verb });

/** CIS 3.2.2: [request, the lowest acceptable level, the highest acceptable level]. */
export const CIS_AUDIT_REQUESTS: [AuditRequest, Level, Level][] = [
  [req('get secrets', '', 'secrets', 'get'), 'Metadata', 'Metadata'],
  [req('update secrets', '', 'secrets', 'update'), 'Metadata', 'Metadata'],
  [req('get configmaps', '', 'configmaps', 'get'), 'Metadata', 'Metadata'],
  [req('create tokenreviews', 'authentication.k8s.io', 'tokenreviews', 'create'), 'Metadata', 'Metadata'],
  [req('create pods', '', 'pods', 'create'), 'Metadata', 'RequestResponse'],
  [req('patch pods', '', 'pods', 'patch'), 'Metadata', 'RequestResponse'],
  [req('delete pods', '', 'pods', 'delete'), 'Metadata', 'RequestResponse'],
  [req('update deployments', 'apps', 'deployments', 'update'), 'Metadata', 'RequestResponse'],
  [req('create pods/exec', '', 'pods/exec', 'create'), 'Metadata', 'RequestResponse'],
  [req('create pods/portforward', '', 'pods/portforward', 'create'), 'Metadata', 'RequestResponse'],
  [req('get pods/proxy', '', 'pods/proxy', 'get'), 'Metadata', 'RequestResponse'],
  [req('get services/proxy', '', 'services/proxy', 'get'), 'Metadata', 'RequestResponse'],
  [req('list nodes (any other request)', '', 'nodes', 'list'), 'Metadata', 'RequestResponse'],
];

/** Each CIS request with the level it gets and whether that is acceptable. */
export function assessAuditPolicy(rules: Rule[]): { request: string; level: Level; rule?: number; ok: boolean; want: string }[] {
  return CIS_AUDIT_REQUESTS.map(([r, lo, hi]) => {
    const { level, rule } = levelFor(rules, r);
    return { request: r.name, level, rule, ok: rank(level) >= rank(lo) && rank(level) <= rank(hi), want: lo === hi ? lo : `at least ${lo}` };
  });
}
