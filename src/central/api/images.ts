/** `GET /api/v1/images[?digest=&ref=]` and `/images/{digest}`: images with their findings, components, layers and signature. */
import { severityRank, type Finding, type Severity } from '../../findings/finding.js';
import { readImageSbom } from '../store/image-sboms.js';
import { imageFindings, imageListItem } from '../store/images.js';
import { fromJson } from '../store/json.js';
import { ApiError, errorSchema } from './errors.js';
import { decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';
import type { ApiModule } from './module.js';

interface Component { name: string; version?: string; purl?: string; type?: string; layer?: string }

/** Components of a stored CycloneDX SBOM, flattened (nested components included). */
function componentsOf(sbom: { components?: unknown[] } | null): Component[] {
  const out: Component[] = [];
  const walk = (list: unknown[] | undefined) => {
    for (const c of list ?? []) {
      const comp = c as { name?: string; version?: string; purl?: string; type?: string; components?: unknown[]; properties?: { name: string; value: string }[] };
      if (comp.name) {
        const layer = comp.properties?.find((p) => p.name === 'gatehouse:package:layerDigest' || p.name === 'gatehouse:package:layer')?.value;
        out.push({ name: comp.name, version: comp.version, purl: comp.purl, type: comp.type, ...(layer ? { layer } : {}) });
      }
      walk(comp.components);
    }
  };
  walk(sbom?.components);
  return out;
}

const bySeverity = (a: Finding, b: Finding) => severityRank(b.severity as Severity) - severityRank(a.severity as Severity) || a.id.localeCompare(b.id);

export const imagesApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: { digest?: string; ref?: string; limit: number; cursor?: string } }>('/api/v1/images', {
    config: { permission: 'read' },
    schema: {
      summary: 'List images (filter by digest or reference)',
      querystring: { type: 'object', additionalProperties: false, properties: { digest: { type: 'string' }, ref: { type: 'string' }, ...pageQuerySchema } },
    },
  }, async (req) => {
    const { digest, ref, limit } = req.query;
    const cursor = decodeCursor(req.query.cursor);
    let q = ctx.db.selectFrom('images').select(['digest', 'refs', 'os', 'created', 'summary', 'signature', 'db_version', 'scanned_at', 'first_seen', 'last_seen']);
    if (digest) q = q.where('digest', '=', digest);
    // refs is a JSON array of strings: match the quoted element exactly.
    if (ref) q = q.where('refs', 'like', `%${JSON.stringify(ref).replace(/[%_]/g, (m) => `\\${m}`)}%`);
    if (cursor) q = q.where('digest', '>', cursor.id);
    const rows = await q.orderBy('digest').limit(limit + 1).execute();
    const items = rows.slice(0, limit).map(imageListItem);
    return { items, nextCursor: rows.length > limit ? encodeCursor({ k: null, id: items[items.length - 1]!.digest }) : null };
  });

  app.get<{ Params: { digest: string } }>('/api/v1/images/:digest', {
    config: { permission: 'read' },
    schema: {
      summary: 'One image: vulnerabilities, components, layers, signature, findings, violations',
      params: { type: 'object', properties: { digest: { type: 'string', maxLength: 200 } }, required: ['digest'] },
      response: { 404: errorSchema },
    },
  }, async (req) => {
    const row = await ctx.db.selectFrom('images').selectAll().where('digest', '=', req.params.digest).executeTakeFirst();
    if (!row) throw new ApiError(404, 'not-found', `no image ${req.params.digest}`);
    const findings = (await imageFindings(ctx.db, row.digest)).sort(bySeverity);
    const violations = await ctx.db.selectFrom('violations').selectAll().where('subject_kind', '=', 'image').where('subject_key', '=', row.digest).orderBy('id').execute();
    return {
      ...imageListItem(row),
      layers: fromJson(row.layers, []),
      components: componentsOf(fromJson(await readImageSbom(ctx.db, row.digest), null)),
      vulnerabilities: findings.filter((f) => f.kind === 'vulnerability'),
      findings: findings.filter((f) => f.kind !== 'vulnerability'),
      violations: violations.map((v) => ({ id: v.id, policyId: v.policy_id, state: v.state, severity: v.severity, title: v.title })),
    };
  });
};
