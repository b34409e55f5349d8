/**
 * `POST /api/v1/policies/dry-run`: evaluates a posted policy pack (YAML, checked like an
 * upload: an unknown field is a 400 at file:line) against what Central stores — image
 * policies over every stored image (build stage, from the image's stored facts, as the
 * image-policy job does) and workload policies over every live deployment (deploy stage,
 * from the stored objects of each source, as the live evaluator does) — and answers with
 * the violations it WOULD produce, next to the open ones of the same policy ids: which are
 * new, which stay, which would resolve. Nothing is stored. Other subjects (admission,
 * engine requests, runtime events) act on requests and events as they come: they are
 * listed as not evaluated. Disabled policies in the posted pack are evaluated as if enabled.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import { liveObject } from '../../kube/cluster.js';
import type { ManifestObject } from '../../kube/manifests.js';
import { buildIndex } from '../../kube/object-index.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { compilePolicySet, findViolations } from '../../policy/evaluate.js';
import { describeDiagnostic, readPackText } from '../../policy/pack.js';
import type { Policy } from '../../policy/types.js';
import type { ImageFacts } from '../../vuln/image-facts.js';
import { packagesFromCycloneDx } from '../images/sbom-packages.js';
import { storedImageFacts } from '../images/stored-facts.js';
import { deploymentId, imagesOf, isDeployment } from '../live/deployments.js';
import { ImageCatalog } from '../live/image-catalog.js';
import { readAllImageFindings } from '../store/image-findings.js';
import { readImageSbom } from '../store/image-sboms.js';
import { fromJson } from '../store/json.js';
import { coveringException } from '../store/violations.js';
import type { ApiModule } from './module.js';

/** The subjects Central evaluates stored objects of, with the stage it evaluates them at. */
const EVALUATED: Record<string, { stage: 'build' | 'deploy'; subjectKind: 'image' | 'deployment' }> = {
  image: { stage: 'build', subjectKind: 'image' },
  workload: { stage: 'deploy', subjectKind: 'deployment' },
};
const PAGE = 500;

interface WouldBe {
  id: string; policyId: string; severity: string; title: string; stage: string;
  subjectKind: string; subjectKey: string; subject: string;
  state: 'active' | 'excepted'; change: 'new' | 'unchanged' | 'reopened';
}

const violationItem = {
  type: 'object', additionalProperties: false,
  properties: {
    id: { type: 'string' }, policyId: { type: 'string' }, severity: { type: 'string' }, title: { type: 'string' }, stage: { type: 'string' },
    subjectKind: { type: 'string' }, subjectKey: { type: 'string' }, subject: { type: 'string' },
    state: { type: 'string' }, change: { type: 'string' },
  },
} as const;
const countMap = { type: 'object', additionalProperties: { type: 'integer' } } as const;

const responseSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    policies: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, properties: { id: { type: 'string' }, name: { type: 'string' }, subject: { type: 'string' }, stages: { type: 'array', items: { type: 'string' } }, severity: { type: 'string' }, evaluated: { type: 'boolean' }, reason: { type: 'string' } } },
    },
    evaluated: { type: 'object', additionalProperties: false, properties: { images: { type: 'integer' }, deployments: { type: 'integer' } } },
    total: { type: 'integer' },
    byPolicy: countMap, bySeverity: countMap,
    changes: { type: 'object', additionalProperties: false, properties: { new: { type: 'integer' }, unchanged: { type: 'integer' }, reopened: { type: 'integer' }, resolved: { type: 'integer' } } },
    violations: { type: 'array', items: violationItem },
    resolved: { type: 'array', items: violationItem },
    limit: { type: 'integer' },
    truncated: { type: 'boolean' },
  },
} as const;

const problemSchema = {
  type: 'object', additionalProperties: false,
  properties: { error: { type: 'string' }, message: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
  required: ['error', 'message'],
} as const;

export const policyDryRunApi: ApiModule = (app, ctx) => {
  app.post<{ Body: { yaml: string; pack?: string; limit: number } }>('/api/v1/policies/dry-run', {
    config: { permission: 'read' },
    schema: {
      summary: 'Evaluate a policy pack (YAML) against the stored images and deployments: the violations it would produce, nothing stored',
      body: {
        type: 'object', additionalProperties: false, required: ['yaml'],
        properties: {
          yaml: { type: 'string', maxLength: 1_000_000 },
          pack: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' },
          limit: { type: 'integer', minimum: 0, maximum: 1000, default: 100 },
        },
      },
      response: { 200: responseSchema, 400: problemSchema },
    },
  }, async (req, reply) => {
    const { yaml, limit } = req.body;
    const file = `${req.body.pack ?? 'policy'}.yaml`;
    const loaded = readPackText(yaml, file, ctx.policies.subjects);
    if (loaded.diagnostics.length) {
      const problems = loaded.diagnostics.map(describeDiagnostic);
      return reply.code(400).send({ error: 'bad-policy', message: `${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : ''}`, problems });
    }
    if (loaded.policies.length === 0) return reply.code(400).send({ error: 'bad-policy', message: `${file}: the pack holds no policies`, problems: [`${file}: the pack holds no policies`] });

    const policies: Policy[] = loaded.policies.map((p) => ({ ...p, enabled: true }));
    const set = compilePolicySet(policies, ctx.policies.subjects);
    const ids = [...new Set(policies.map((p) => p.id))];
    const now = ctx.now();
    const exceptions = ctx.policies.exceptions;

    // The open and resolved violations of these policy ids now, by id.
    const before = new Map<string, { state: string; subject_kind: string; subject_key: string; severity: string; title: string; stage: string; policy_id: string }>();
    for (let i = 0; i < ids.length; i += PAGE) {
      const rows = await ctx.db.selectFrom('violations').select(['id', 'state', 'subject_kind', 'subject_key', 'severity', 'title', 'stage', 'policy_id'])
        .where('policy_id', 'in', ids.slice(i, i + PAGE)).where('subject_kind', 'in', ['image', 'deployment']).execute();
      for (const r of rows) before.set(r.id, r);
    }

    const produced = new Map<string, WouldBe>();
    const names = new Map<string, string>();
    const record = (findings: Finding[], stage: string, subjectKind: string, subjectKey: string, subject: string) => {
      for (const f of findings) {
        const fp = (f.fingerprint ? f : withFingerprint(f)).fingerprint!;
        const old = before.get(fp);
        const state = coveringException(f, exceptions, now) ? 'excepted' : 'active';
        produced.set(fp, {
          id: fp, policyId: f.policy?.id ?? f.id, severity: f.severity, title: f.title, stage, subjectKind, subjectKey, subject, state,
          change: !old ? 'new' : old.state === 'resolved' ? 'reopened' : 'unchanged',
        });
      }
    };

    const has = (subject: string) => policies.some((p) => p.subject === subject && p.stages.includes(EVALUATED[subject]!.stage));
    let images = 0;
    let deployments = 0;

    if (has('image')) {
      let after = '';
      for (;;) {
        const rows = await ctx.db.selectFrom('images').select(['digest', 'refs', 'os', 'created', 'layers', 'signature']).where('digest', '>', after).orderBy('digest').limit(PAGE).execute();
        for (const row of rows) {
          const findings = await readAllImageFindings(ctx.db, row.digest);
          const { packages } = packagesFromCycloneDx(fromJson(await readImageSbom(ctx.db, row.digest), null));
          const facts = storedImageFacts(row, packages, findings, now);
          record(findViolations({ kind: 'image', value: facts }, set, 'build'), 'build', 'image', row.digest, facts.ref);
          images++;
          names.set(row.digest, facts.ref);
          if (images % 50 === 0) await yieldToEventLoop();
        }
        if (rows.length < PAGE) break;
        after = rows[rows.length - 1]!.digest;
      }
    }

    if (has('workload')) {
      const catalog = new ImageCatalog(ctx.db);
      const sources = await ctx.db.selectFrom('sources').select(['id', 'name']).where('kind', '=', 'cluster').orderBy('name').execute();
      for (const source of sources) {
        const objects: { key: { kind: string; namespace: string; name: string }; object: ManifestObject; body: Record<string, any> }[] = [];
        const rows = await ctx.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', source.id).where('deleted_at', 'is', null).execute();
        for (const r of rows) {
          const body = fromJson<Record<string, any>>(r.body, {});
          if (body.kind === undefined) continue; // not a Kubernetes object
          const meta = { kind: r.kind, namespace: r.namespace, name: r.name, body };
          if (workloadKindOf(r.kind)?.runsPods && !isDeployment(meta)) continue; // pods of a workload: the workload is evaluated
          delete body.status;
          const annotations = body.metadata?.annotations as Record<string, string> | undefined;
          if (annotations) delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
          objects.push({ key: { kind: r.kind, namespace: r.namespace, name: r.name }, object: liveObject(body as never, source.name), body });
        }
        const index = buildIndex(objects.map((o) => o.object));
        for (const o of objects) {
          const meta = { ...o.key, body: o.body };
          if (!isDeployment(meta)) continue;
          const facts = new Map<string, ImageFacts>();
          for (const ref of imagesOf(meta)) {
            const f = await catalog.factsFor(ref, now);
            if (f) facts.set(ref, f);
          }
          const id = deploymentId(source.id, o.key.kind, o.key.namespace, o.key.name);
          const label = `${source.name}/${o.key.namespace ? `${o.key.namespace}/` : ''}${o.key.kind}/${o.key.name}`;
          record(findViolations({ kind: 'workload', value: { objects: [o.object], index, cluster: source.name, imageFacts: (ref: string) => facts.get(ref) } }, set, 'deploy'), 'deploy', 'deployment', id, label);
          names.set(id, label);
          deployments++;
          if (deployments % 25 === 0) await yieldToEventLoop();
        }
      }
    }

    const list = [...produced.values()].sort((a, b) => a.policyId.localeCompare(b.policyId) || a.subject.localeCompare(b.subject) || a.id.localeCompare(b.id));
    const evaluatedKinds = new Set([...(has('image') ? ['image'] : []), ...(has('workload') ? ['deployment'] : [])]);
    const resolved: WouldBe[] = [...before.entries()]
      .filter(([id, v]) => v.state !== 'resolved' && evaluatedKinds.has(v.subject_kind) && !produced.has(id))
      .map(([id, v]) => ({ id, policyId: v.policy_id, severity: v.severity, title: v.title, stage: v.stage, subjectKind: v.subject_kind, subjectKey: v.subject_key, subject: names.get(v.subject_key) ?? v.subject_key, state: 'active' as const, change: 'unchanged' as const }));
    const tally = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => { m[x] = (m[x] ?? 0) + 1; return m; }, {});

    return {
      policies: policies.map((p) => {
        const ev = EVALUATED[p.subject];
        const evaluated = ev !== undefined && p.stages.includes(ev.stage);
        return {
          id: p.id, name: p.name, subject: p.subject, stages: p.stages, severity: p.severity, evaluated,
          ...(evaluated ? {} : { reason: ev ? `Central evaluates stored ${p.subject === 'image' ? 'images' : 'deployments'} at the ${ev.stage} stage; this policy has stages ${p.stages.join(', ') || 'none'}` : `${p.subject} policies act on requests and events as they come, not on stored objects` }),
        };
      }),
      evaluated: { images, deployments },
      total: list.length,
      byPolicy: tally(list.map((v) => v.policyId)),
      bySeverity: tally(list.map((v) => v.severity)),
      changes: { new: list.filter((v) => v.change === 'new').length, unchanged: list.filter((v) => v.change === 'unchanged').length, reopened: list.filter((v) => v.change === 'reopened').length, resolved: resolved.length },
      violations: list.slice(0, limit),
      resolved: resolved.slice(0, limit),
      limit,
      truncated: list.length > limit || resolved.length > limit,
    };
  });
};
