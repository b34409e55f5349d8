/**
 * `GET /api/v1/deployments/{id}/vulnerabilities`: the vulnerabilities of every image a
 * deployment runs, one row per (id, package, version) listing the images that carry it, so a
 * base-image CVE shared by two containers is one thing to fix, not two.
 */
import { SEVERITIES, severityRank, type Finding, type Severity } from '../../findings/finding.js';
import { imageFindings } from '../store/images.js';
import { fromJson } from '../store/json.js';
import { severityList } from './alerts.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { decodeCursor, encodeCursor, pageQuerySchema, pageSchema } from './paging.js';

export interface DeploymentVulnerability {
  id: string; severity: Severity; package: string; version: string; fixedVersion?: string;
  images: string[];
  /** The layer's digest when the scanner recorded it, else its index in the first image listed. */
  layer?: string | number;
}

const itemSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'severity', 'package', 'version', 'images'],
  properties: {
    id: { type: 'string', description: 'CVE or GHSA id' },
    severity: { type: 'string', enum: [...SEVERITIES] },
    package: { type: 'string' }, version: { type: 'string' }, fixedVersion: { type: 'string' },
    images: { type: 'array', items: { type: 'string' }, description: 'digests of the deployment\'s images carrying it' },
    layer: { type: ['string', 'integer'] },
  },
};

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** Sort key: severity (highest first), then id, package, version; also the cursor's key. */
const keyOf = (v: DeploymentVulnerability) => [String(9 - severityRank(v.severity)), v.id, v.package, v.version].join('\u0000');

/** Folds the findings of each image into one row per (id, package, version). */
export function mergeVulnerabilities(byImage: { digest: string; findings: Finding[] }[]): DeploymentVulnerability[] {
  const rows = new Map<string, DeploymentVulnerability>();
  for (const { digest, findings } of byImage) {
    for (const f of findings) {
      if (f.kind !== 'vulnerability') continue;
      const pkg = str(f.data?.package), version = str(f.data?.installedVersion);
      const key = [f.id, pkg, version].join('\u0000');
      let row = rows.get(key);
      if (!row) {
        const fixed = str(f.data?.fixedVersion);
        const layer = f.resource.image?.layerDigest ?? f.resource.image?.layer;
        row = { id: f.id, severity: f.severity, package: pkg, version, ...(fixed ? { fixedVersion: fixed } : {}), images: [], ...(layer !== undefined ? { layer } : {}) };
        rows.set(key, row);
      }
      // Sources may rate one CVE differently per image: the row shows the highest.
      if (severityRank(f.severity) > severityRank(row.severity)) row.severity = f.severity;
      if (!row.images.includes(digest)) row.images.push(digest);
    }
  }
  return [...rows.values()].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

interface Query { severity?: string; fixable?: boolean; limit: number; cursor?: string }

export const deploymentVulnerabilitiesApi: ApiModule = (app, ctx) => {
  app.get<{ Params: { id: string }; Querystring: Query }>('/api/v1/deployments/:id/vulnerabilities', {
    config: { permission: 'read' },
    schema: {
      summary: 'Vulnerabilities across a deployment\'s images, one row per CVE and package, by severity then id',
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          ...pageQuerySchema,
          severity: { type: 'string', description: 'a comma list of severities' },
          fixable: { type: 'boolean', description: 'only those with a fixed version' },
        },
      },
      response: { 200: pageSchema(itemSchema), 404: errorSchema },
    },
  }, async (req) => {
    const row = await ctx.db.selectFrom('deployments').select(['id', 'images']).where('id', '=', req.params.id).executeTakeFirst();
    if (!row) throw new ApiError(404, 'not-found', `no deployment ${req.params.id}`);
    const severities = req.query.severity ? new Set(severityList(req.query.severity)) : undefined;
    const cursor = decodeCursor(req.query.cursor);
    const digests = [...new Set(fromJson<string[]>(row.images, []).map((r) => r.split('@')[1]).filter((d): d is string => !!d))];
    // Through the store function the image detail route uses: the findings' storage is its business.
    const byImage = await Promise.all(digests.map(async (digest) => ({ digest, findings: await imageFindings(ctx.db, digest) })));
    let items = mergeVulnerabilities(byImage)
      .filter((v) => (!severities || severities.has(v.severity)) && (!req.query.fixable || v.fixedVersion));
    if (cursor) items = items.filter((v) => keyOf(v) > cursor.id);
    const page = items.slice(0, req.query.limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: items.length > req.query.limit && last ? encodeCursor({ k: null, id: keyOf(last) }) : null };
  });
};
