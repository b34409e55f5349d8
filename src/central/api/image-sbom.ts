/**
 * `GET /api/v1/images/{digest}/sbom?format=cyclonedx|spdx`: the image's stored SBOM as a
 * download. The store keeps CycloneDX JSON (as pushed); SPDX 2.3 is written from it by the
 * one SPDX writer (src/inventory/sbom/spdx.ts) over the inventory the CycloneDX components
 * describe (packagesFromCycloneDx, the reader the vulnerability matcher uses).
 */
import { sbomFormats } from '../../inventory/index.js';
import { GATEHOUSE_VERSION } from '../../version.js';
import { packagesFromCycloneDx } from '../images/sbom-packages.js';
import { readImageSbom } from '../store/image-sboms.js';
import { fromJson } from '../store/json.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';

const FORMATS = ['cyclonedx', 'spdx'] as const;
type SbomFormat = (typeof FORMATS)[number];

/** A file name from the image's first reference (or its digest): `repo_tag.cdx.json`. */
function fileName(digest: string, refs: string[], format: SbomFormat): string {
  const base = (refs[0] ?? digest).replace(/^[a-z]+:/, '').split('/').pop() ?? digest;
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 100) || 'image';
  return `${safe}-${digest.replace(/^sha256:/, '').slice(0, 12)}.${format === 'spdx' ? 'spdx' : 'cdx'}.json`;
}

export const imageSbomApi: ApiModule = (app, ctx) => {
  app.get<{ Params: { digest: string }; Querystring: { format: SbomFormat } }>('/api/v1/images/:digest/sbom', {
    config: { permission: 'read' },
    schema: {
      summary: "Download an image's SBOM as CycloneDX JSON (as stored) or SPDX 2.3 JSON",
      params: { type: 'object', properties: { digest: { type: 'string', maxLength: 200 } }, required: ['digest'] },
      querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: [...FORMATS], default: 'cyclonedx' } } },
      response: { 200: { type: 'object', additionalProperties: true }, 404: errorSchema },
    },
  }, async (req, reply) => {
    const { digest } = req.params;
    const row = await ctx.db.selectFrom('images').select(['digest', 'refs']).where('digest', '=', digest).executeTakeFirst();
    if (!row) throw new ApiError(404, 'not-found', `no image ${digest}`);
    const text = await readImageSbom(ctx.db, digest);
    if (!text) throw new ApiError(404, 'not-found', `image ${digest} has no SBOM (push one with image scan or image sbom --server)`);
    const refs = fromJson<string[]>(row.refs, []);
    const format = req.query.format;
    let body: string;
    if (format === 'cyclonedx') {
      body = text;
    } else {
      const bom = fromJson<unknown>(text, null);
      const { os, packages } = packagesFromCycloneDx(bom);
      body = sbomFormats.spdx!({ target: { kind: 'image', name: refs[0] ?? digest, digest }, inventory: { os, packages, warnings: [] }, toolVersion: GATEHOUSE_VERSION });
    }
    void reply
      .header('content-type', format === 'spdx' ? 'application/spdx+json; charset=utf-8' : 'application/vnd.cyclonedx+json; charset=utf-8')
      .header('content-disposition', `attachment; filename="${fileName(digest, refs, format)}"`);
    return reply.send(body);
  });
};
