/**
 * `GET /api/v1/compliance/frameworks` and `GET /api/v1/compliance/report`: CIS Kubernetes and
 * NIST SP 800-190 per control, built with src/compliance over what Central stores — the live
 * objects of one cluster source (read in pages) and the failed checks `node check --server`
 * pushed (source `node-check`, one report per host). JSON, or CSV / self-contained HTML as a
 * download.
 */
import { liveObject } from '../../kube/cluster.js';
import type { ManifestObject } from '../../kube/manifests.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { builtinCatalog, buildComplianceReport, FRAMEWORKS, gatherResults, loadFramework, renderCompliance, resultsFromReport, type ComplianceInputs } from '../../compliance/index.js';
import type { Finding } from '../../findings/finding.js';
import type { CheckResult } from '../../findings/check-result.js';
import { KIND_RESOURCES } from '../inventory/kube/resources.js';
import { isDeployment } from '../live/deployments.js';
import { canonicalRef } from '../live/image-catalog.js';
import type { CentralContext } from '../context.js';
import { chunks } from '../store/json.js';
import { fromJson } from '../store/json.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY } from './paging.js';

const FORMATS = ['json', 'csv', 'html'] as const;
type Format = (typeof FORMATS)[number];
const PAGE = 2000;
const CONTENT_TYPES: Record<Format, string> = { json: 'application/json; charset=utf-8', csv: 'text/csv; charset=utf-8', html: 'text/html; charset=utf-8' };

/**
 * Checks whose failures rest on the absence of objects of these kinds. Kinds Central's
 * watcher does not store (inventory/kube/resources.ts) cannot be told absent, so such a
 * failure becomes `unknown` (the control turns manual) with the reason, never a false fail.
 */
const READS_ABSENCE_OF: Record<string, readonly string[]> = {
  'k8s.namespace.resourcequota': ['ResourceQuota'],
  'namespace-without-resourcequota': ['ResourceQuota'],
  'k8s.namespace.limitrange': ['LimitRange'],
  'namespace-without-limitrange': ['LimitRange'],
  'k8s.namespace.pod-security': ['ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy'],
  'k8s.mesh.namespace-mtls': ['PeerAuthentication'],
  'k8s.mesh.workload-mtls': ['PeerAuthentication'],
  'dangling-horizontalpodautoscaler': ['HorizontalPodAutoscaler'],
};
/** Checks about objects of these kinds: without them stored, the checks are simply not evaluated. */
const CHECKS_KINDS: Record<string, readonly string[]> = {
  'secrets-in-configmap': ['ConfigMap'],
  'pdb-max-unavailable': ['PodDisruptionBudget'],
  'pdb-min-available': ['PodDisruptionBudget'],
  'pdb-unhealthy-pod-eviction-policy': ['PodDisruptionBudget'],
};
const STORED_KINDS = new Set(Object.keys(KIND_RESOURCES));
const NEEDS: Record<string, readonly string[]> = { ...CHECKS_KINDS, ...READS_ABSENCE_OF };
/** The kinds the report would read that Central's watcher does not store. */
export const UNSTORED_KINDS = [...new Set(Object.values(NEEDS).flat())].filter((k) => !STORED_KINDS.has(k)).sort();
/** The checks that see less on Central than on the cluster itself today (their kinds are not stored). */
export const CHECKS_ON_UNSTORED_KINDS = Object.keys(NEEDS).filter((id) => NEEDS[id]!.some((k) => !STORED_KINDS.has(k)));

function unknownWhereUnstored(r: CheckResult): CheckResult {
  const kinds = (READS_ABSENCE_OF[r.id] ?? []).filter((k) => !STORED_KINDS.has(k));
  if (r.status !== 'fail' || !kinds.length) return r;
  const { finding: _finding, ...rest } = r;
  return { ...rest, status: 'unknown', reason: `Central does not store ${kinds.join(', ')} objects, so their absence cannot be told: ${r.evidence[0] ?? r.title}` };
}

interface ReportQuery { framework: string; cluster?: string; format: Format }

export const complianceApi: ApiModule = (app, ctx) => {
  app.get('/api/v1/compliance/frameworks', {
    config: { permission: 'read' },
    schema: {
      summary: 'The compliance frameworks Central reports on',
      querystring: NO_QUERY,
      response: {
        200: {
          type: 'object', required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: { type: 'object', required: ['id', 'title', 'version', 'controls'], properties: { id: { type: 'string' }, title: { type: 'string' }, version: { type: 'string' }, controls: { type: 'integer' } } },
            },
          },
        },
      },
    },
  }, async () => {
    const catalog = await builtinCatalog();
    const items = [];
    for (const id of FRAMEWORKS) {
      const fw = await loadFramework(id, catalog);
      items.push({ id: fw.id, title: fw.title, version: fw.version, controls: fw.controls.length });
    }
    return { items };
  });

  app.get<{ Querystring: ReportQuery }>('/api/v1/compliance/report', {
    config: { permission: 'read' },
    schema: {
      summary: 'Per control of a framework: pass, fail, manual or not applicable, with the evidence (JSON, or CSV / HTML as a download)',
      querystring: {
        type: 'object', additionalProperties: false, required: ['framework'],
        properties: {
          framework: { type: 'string', enum: [...FRAMEWORKS] },
          cluster: { type: 'string', maxLength: 100, description: 'a cluster source id (GET /api/v1/clusters): its live objects are checked' },
          format: { type: 'string', enum: [...FORMATS], default: 'json' },
        },
      },
      response: { 400: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    const { framework, cluster, format } = req.query;
    const results: CheckResult[] = [];
    const sources: string[] = [];
    const catalog = await builtinCatalog();
    let label = 'central';
    if (cluster !== undefined) {
      const src = await ctx.db.selectFrom('sources').select(['id', 'name']).where('id', '=', cluster).where('kind', '=', 'cluster').executeTakeFirst();
      if (!src) throw new ApiError(404, 'not-found', `no cluster source ${cluster} (GET /api/v1/clusters lists them)`);
      label = src.name;
      const objects = await clusterObjects(ctx.db, src.id, src.name);
      const before = results.length;
      for (const r of await gatherResults({ objects, cluster: src.name }, { now: ctx.now() })) results.push(unknownWhereUnstored(r));
      sources.push(`cluster ${src.name} (Central's live inventory, ${objects.length} object(s)${UNSTORED_KINDS.length ? `; not stored, so the checks that need them are unknown or not evaluated: ${UNSTORED_KINDS.join(', ')}` : ''}): ${results.length - before} result(s)`);
      const images = await imageResults(ctx, src.id, catalog);
      for (const r of images.results) results.push(r);
      if (images.scanned) sources.push(`image policies on ${images.scanned} scanned image(s) the cluster runs: ${images.results.length} result(s)`);
    }
    const node = await nodeCheckResults(ctx.db, catalog);
    for (const r of node.results) results.push(r);
    if (node.hosts.length) sources.push(`node check from ${node.hosts.join(', ')}: ${node.results.length} failed check(s) pushed (passes are not pushed)`);
    // One input line: the parts with their own counts, then the total buildComplianceReport appends.
    const inputs: ComplianceInputs = sources.length ? { results, resultsSource: `${sources.join('; ')}; in all` } : {};
    const report = await buildComplianceReport(framework, inputs, { now: ctx.now() });
    const body = renderCompliance(report, format);
    reply.type(CONTENT_TYPES[format]);
    if (format !== 'json') {
      const day = report.generatedAt.slice(0, 10);
      reply.header('content-disposition', `attachment; filename="gatehouse-compliance-${framework}-${label.replace(/[^a-zA-Z0-9._-]/g, '-')}-${day}.${format}"`);
    }
    return reply.send(body);
  });
};

type Db = Parameters<ApiModule>[1]['db'];

/**
 * A cluster source's live objects, read in pages (keyset on kind, namespace, name) so the
 * bodies are never all in memory as text at once. Workloads another workload owns
 * (ReplicaSets, controlled Pods) are left out, as the live evaluator does: the owner is
 * checked. Bodies lose status and the last-applied copy.
 */
async function clusterObjects(db: Db, sourceId: string, name: string): Promise<ManifestObject[]> {
  const out: ManifestObject[] = [];
  let after = { kind: '', namespace: '', name: '' };
  for (;;) {
    const rows = await db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', sourceId).where('deleted_at', 'is', null)
      .where((eb) => eb.or([
        eb('kind', '>', after.kind),
        eb.and([eb('kind', '=', after.kind), eb('namespace', '>', after.namespace)]),
        eb.and([eb('kind', '=', after.kind), eb('namespace', '=', after.namespace), eb('name', '>', after.name)]),
      ]))
      .orderBy('kind').orderBy('namespace').orderBy('name').limit(PAGE).execute();
    for (const r of rows) {
      const body = fromJson<Record<string, any>>(r.body, {});
      if (typeof body.kind !== 'string' || typeof body.apiVersion !== 'string') continue;
      if (workloadKindOf(r.kind)?.runsPods && !isDeployment({ kind: r.kind, namespace: r.namespace, name: r.name, body })) continue;
      delete body.status;
      const annotations = body.metadata?.annotations as Record<string, string> | undefined;
      if (annotations) delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
      out.push(liveObject(body as never, `cluster ${name}`));
    }
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1]!;
    after = { kind: last.kind, namespace: last.namespace, name: last.name };
  }
  return out;
}

/** The failed node and control-plane checks each host pushed (`node check --server`), as failed results. */
async function nodeCheckResults(db: Db, catalog: Awaited<ReturnType<typeof builtinCatalog>>) {
  const byHost = new Map<string, Finding[]>();
  let after = { target: '', fingerprint: '' };
  for (;;) {
    const rows = await db.selectFrom('findings').select(['target', 'fingerprint', 'body']).where('source', '=', 'node-check')
      .where((eb) => eb.or([eb('target', '>', after.target), eb.and([eb('target', '=', after.target), eb('fingerprint', '>', after.fingerprint)])]))
      .orderBy('target').orderBy('fingerprint').limit(PAGE).execute();
    for (const r of rows) {
      const list = byHost.get(r.target) ?? [];
      list.push(fromJson<Finding>(r.body, {} as Finding));
      byHost.set(r.target, list);
    }
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1]!;
    after = { target: last.target, fingerprint: last.fingerprint };
  }
  const results = [...byHost].flatMap(([host, findings]) => resultsFromReport({ command: 'node check', findings }, host, catalog).results);
  return { hosts: [...byHost.keys()], results };
}

/**
 * The build-stage image policies Central evaluated on the scanned images the cluster's
 * deployments run (violations of subject kind `image`, keyed by digest): an active violation
 * fails, no violation (or an excepted one) passes. Images Central has no scan of give nothing.
 */
async function imageResults(ctx: Pick<CentralContext, 'db' | 'policies'>, sourceId: string, catalog: Awaited<ReturnType<typeof builtinCatalog>>) {
  const refs = new Set<string>();
  const digests = new Set<string>();
  const deployments = await ctx.db.selectFrom('deployments').select('images').where('source_id', '=', sourceId).where('deleted_at', 'is', null).execute();
  for (const d of deployments) {
    for (const ref of fromJson<string[]>(d.images, [])) {
      const at = ref.indexOf('@');
      if (at >= 0) digests.add(ref.slice(at + 1));
      refs.add(canonicalRef(at >= 0 ? ref.slice(0, at) : ref));
    }
  }
  // Scanned images by digest or by one of their references, in pages.
  const scanned = new Map<string, string>();
  let after = '';
  for (;;) {
    const rows = await ctx.db.selectFrom('images').select(['digest', 'refs']).where('scanned_at', 'is not', null).where('digest', '>', after).orderBy('digest').limit(PAGE).execute();
    for (const r of rows) {
      const its = fromJson<string[]>(r.refs, []);
      const hit = digests.has(r.digest) ? its[0] ?? r.digest : its.find((x) => refs.has(canonicalRef(x)));
      if (hit) scanned.set(r.digest, hit);
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.digest;
  }
  const policies = ctx.policies.list.filter((p) => p.enabled && p.subject === 'image' && p.stages.includes('build') && catalog.has(p.id));
  const results: CheckResult[] = [];
  if (!scanned.size || !policies.length) return { scanned: scanned.size, results };
  const violations = new Map<string, { state: string; severity: string; title: string; body: string }>();
  for (const part of chunks([...scanned.keys()], 500)) {
    const rows = await ctx.db.selectFrom('violations').select(['subject_key', 'policy_id', 'state', 'severity', 'title', 'body'])
      .where('subject_kind', '=', 'image').where('stage', '=', 'build').where('subject_key', 'in', part).where('state', '!=', 'resolved').execute();
    for (const r of rows) violations.set(`${r.subject_key} ${r.policy_id}`, r);
  }
  for (const [digest, ref] of scanned) {
    for (const p of policies) {
      const v = violations.get(`${digest} ${p.id}`);
      const where = `image ${ref} (${digest.slice(0, 19)})`;
      if (v?.state === 'active') {
        results.push({ id: p.id, title: v.title, status: 'fail', severity: p.severity, evidence: [`${where}: ${v.title}`], remediation: p.remediation, finding: fromJson<Finding>(v.body, {} as Finding) });
      } else {
        results.push({ id: p.id, title: `${p.name}: no violation`, status: 'pass', severity: p.severity, evidence: [`${where}: ${v ? 'violation excepted' : 'no violation'} (Central's image policies)`] });
      }
    }
  }
  return { scanned: scanned.size, results };
}
