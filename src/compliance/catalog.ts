/**
 * Every check id a framework control may name, with where it comes from: the policies of
 * every built-in pack (policies/*.yaml and policies/deploy/), the RBAC risks and Dockerfile
 * rules (their own data packs), the runtime rule names the built-in runtime pack and the
 * sensor know, the cluster-level checks of this engine, and any checks other engines
 * register (node and control-plane checks). Read from the data files as plain YAML: ids
 * only, no policy compilation.
 */
import { basename, join } from 'node:path';
import { defaultPackDir } from '../policy/builtin.js';
import { expandYamlPaths, readPositionedYaml } from '../util/positioned-yaml.js';
import { DROP_RULE } from '../sensor/drop-alert.js';
import { checkCatalog as nodeCheckCatalog } from '../node/index.js';
import { CLUSTER_CHECKS } from './cluster-checks.js';

export type CheckSource = 'policy' | 'rbac-risk' | 'dockerfile-rule' | 'runtime-rule' | 'cluster-check' | 'node-check';

export interface CatalogEntry {
  id: string;
  title: string;
  source: CheckSource;
  /** The pack or module that defines it (`deploy`, `rbac-risks`, `compliance`, `node`). */
  origin: string;
  /** The subject of a policy (image, workload, admission, engine-request, runtime). */
  subject?: string;
}

export type CheckCatalog = ReadonlyMap<string, CatalogEntry>;

/** Checks registered by other engines (src/node's node and control-plane checks). */
export interface RegisteredCheck {
  id: string;
  title: string;
}

/** Packs other than policy packs that define ids of their own. */
const DATA_PACK_LISTS: Record<string, { key: string; source: CheckSource }> = {
  RbacRiskPack: { key: 'risks', source: 'rbac-risk' },
  DockerfileRulePack: { key: 'rules', source: 'dockerfile-rule' },
};

/** alert.rule values named in runtime policies' criteria. */
function ruleNames(criteria: unknown, out: Set<string>): void {
  if (!criteria || typeof criteria !== 'object') return;
  if (Array.isArray(criteria)) {
    for (const c of criteria) ruleNames(c, out);
    return;
  }
  const c = criteria as Record<string, unknown>;
  if (c.field === 'alert.rule') {
    const v = c.value;
    for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string' && (c.op === 'equals' || c.op === 'in')) out.add(x);
  }
  for (const k of ['all', 'any', 'not']) if (k in c) ruleNames(c[k], out);
}

/**
 * The catalog of the built-in data plus the node and control-plane checks of src/node;
 * `registered` adds checks of other modules.
 */
export async function builtinCatalog(opts: { packDir?: string; registered?: readonly RegisteredCheck[] } = {}): Promise<CheckCatalog> {
  const dir = opts.packDir ?? defaultPackDir();
  const out = new Map<string, CatalogEntry>();
  const add = (e: CatalogEntry) => {
    if (!out.has(e.id)) out.set(e.id, e);
  };
  const files = (await expandYamlPaths(dir)).filter((f) => !f.startsWith(join(dir, 'frameworks')));
  const runtimeRules = new Set<string>([DROP_RULE]);
  for (const file of files) {
    for (const doc of await readPositionedYaml(file)) {
      const v = doc.value as Record<string, any>;
      if (!v || typeof v !== 'object') continue;
      const origin = file.startsWith(join(dir, 'deploy')) ? 'deploy' : basename(file).replace(/\.ya?ml$/, '');
      const data = DATA_PACK_LISTS[v.kind as string];
      if (data) {
        for (const r of Array.isArray(v[data.key]) ? v[data.key] : []) if (typeof r?.id === 'string') add({ id: r.id, title: String(r.name ?? r.id), source: data.source, origin });
        continue;
      }
      if (v.kind !== 'PolicyPack') continue;
      for (const p of Array.isArray(v.policies) ? v.policies : []) {
        if (typeof p?.id !== 'string') continue;
        const subject = String(p.subject ?? v.subject ?? 'workload');
        add({ id: p.id, title: String(p.name ?? p.id), source: 'policy', origin, subject });
        if (subject === 'runtime') ruleNames(p.criteria, runtimeRules);
      }
    }
  }
  for (const r of [...runtimeRules].sort()) add({ id: r, title: r, source: 'runtime-rule', origin: 'runtime' });
  for (const c of CLUSTER_CHECKS) add({ id: c.id, title: c.title, source: 'cluster-check', origin: 'compliance' });
  for (const c of nodeCheckCatalog()) add({ id: c.id, title: c.title, source: 'node-check', origin: 'node' });
  for (const c of opts.registered ?? []) add({ id: c.id, title: c.title, source: 'node-check', origin: 'node' });
  return out;
}
