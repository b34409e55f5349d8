/**
 * `GET /api/v1/identities[?cluster=&namespace=&trustDomain=]`: the service identity of every
 * live deployment (src/identity ServiceIdentity), built from Central's store: the workload's
 * object (service account, labels, pod annotations; a host container's labels), and for each
 * image it runs the stored scan (digest, signature status and signers, vulnerability counts
 * by severity) and, on plain hosts, the engine's image labels. Read permission (analyst and up).
 *
 * `POST /api/v1/identities/svid` (admin): an X.509-SVID for a workload's PKCS#10 request,
 * signed by Central's CA of the ID's trust domain (made on first use, sealed with the data
 * key in the meta table); the workload's key never leaves it.
 *
 * Build provenance comes from the image's manifest annotations and config labels as pushed
 * (`image scan|sbom --server`, Central's own scans: images.provenance), the engine's image
 * labels on plain hosts, then pod annotations and labels (src/identity/provenance.ts orders them).
 */
import { caPem, issueSvidForRequest, makeSpiffeCa, parseCaFile, type SpiffeCa } from '../../identity/ca.js';
import { DEFAULT_TRUST_DOMAIN, checkTrustDomain, parseSpiffeId } from '../../identity/spiffe.js';
import type { ServiceIdentity } from '../../identity/types.js';
import { isUserError } from '../../util/errors.js';
import { identitiesOfDeployments } from '../network/identities.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { decodeCursor, encodeCursor, pageQuerySchema, pageSchema } from './paging.js';

const str = { type: 'string' } as const;
const strMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const counts = {
  type: ['object', 'null'], additionalProperties: false, required: ['critical', 'high', 'medium', 'low', 'unknown'],
  properties: { critical: { type: 'integer' }, high: { type: 'integer' }, medium: { type: 'integer' }, low: { type: 'integer' }, unknown: { type: 'integer' } },
} as const;
const signature = { type: 'string', enum: ['verified', 'unverified', 'unknown'] } as const;
const build = {
  type: 'object', additionalProperties: false, required: ['evidence'],
  properties: {
    revision: str, repository: str, branch: str,
    evidence: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['attribute', 'key', 'origin'], properties: { attribute: { type: 'string', enum: ['revision', 'repository', 'branch'] }, key: str, origin: { type: 'string', enum: ['image-annotation', 'image-label', 'pod-annotation', 'pod-label', 'container-label'] } } },
    },
  },
} as const;

/** JSON schema of one ServiceIdentity (src/identity/types.ts). */
export const identitySchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'workload', 'labels', 'images', 'signature', 'signers', 'vulnerabilities', 'scanned', 'build'],
  properties: {
    id: { type: 'string', description: 'the deployment id (GET /api/v1/deployments/{id})' },
    workload: {
      type: 'object', additionalProperties: false, required: ['namespace', 'kind', 'name'],
      properties: { cluster: str, host: str, namespace: str, kind: str, name: str },
    },
    serviceAccount: str,
    spiffeId: { type: 'string', description: 'spiffe://TRUST_DOMAIN/ns/NS/sa/SA (Kubernetes) or spiffe://TRUST_DOMAIN/host/HOST/workload/NAME (plain hosts)' },
    labels: strMap,
    images: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['ref', 'signature', 'signers', 'vulnerabilities', 'build'],
        properties: { ref: str, container: str, digest: str, signature, signers: { type: 'array', items: str }, vulnerabilities: counts, build },
      },
    },
    signature, signers: { type: 'array', items: str }, vulnerabilities: counts, scanned: { type: 'boolean' }, build,
  },
} as const;

interface Query { cluster?: string; namespace?: string; trustDomain: string; limit: number; cursor?: string }

/** Central's SPIFFE CA of a trust domain, sealed in the meta table; made on first use (the first writer wins). */
async function centralCa(ctx: Parameters<ApiModule>[1], trustDomain: string): Promise<SpiffeCa> {
  const key = `identity-ca:${trustDomain}`;
  const read = async () => (await ctx.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst())?.value;
  let sealed = await read();
  if (!sealed) {
    const fresh = await makeSpiffeCa(trustDomain, ctx.now());
    await ctx.db.insertInto('meta').values({ key, value: ctx.secrets.seal(caPem(fresh)) }).onConflict((oc) => oc.column('key').doNothing()).execute();
    sealed = (await read())!;
  }
  return parseCaFile(ctx.secrets.open(sealed), `Central's ${trustDomain} CA`, trustDomain);
}

export const identitiesApi: ApiModule = (app, ctx) => {
  app.post<{ Body: { spiffeId: string; csr: string; ttlSeconds?: number } }>('/api/v1/identities/svid', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Issue a short-lived SPIFFE X.509-SVID for a PKCS#10 request (P-256), signed by Central\'s CA of the ID\'s trust domain',
      body: {
        type: 'object', additionalProperties: false, required: ['spiffeId', 'csr'],
        properties: {
          spiffeId: { type: 'string', maxLength: 2048, description: 'spiffe://TRUST_DOMAIN/PATH; the request\'s own names are ignored' },
          csr: { type: 'string', maxLength: 16384, description: 'PEM PKCS#10 request: proves the key, which never leaves the workload' },
          ttlSeconds: { type: 'integer', minimum: 60, maximum: 86400, default: 3600 },
        },
      },
      response: {
        200: {
          type: 'object', additionalProperties: false, required: ['spiffeId', 'certificate', 'bundle', 'notBefore', 'notAfter', 'serialNumber'],
          properties: { spiffeId: str, certificate: str, bundle: str, notBefore: str, notAfter: str, serialNumber: str },
        },
        400: errorSchema,
      },
    },
  }, async (req) => {
    const { spiffeId, csr, ttlSeconds = 3600 } = req.body;
    const parsed = parseSpiffeId(spiffeId);
    if (!parsed || !parsed.path) throw new ApiError(400, 'bad-request', `"${spiffeId}" is not a workload's SPIFFE ID (spiffe://TRUST_DOMAIN/PATH)`);
    try {
      const ca = await centralCa(ctx, parsed.trustDomain);
      const svid = await issueSvidForRequest(ca, csr, spiffeId, { ttlMs: ttlSeconds * 1000, now: ctx.now() });
      req.log.info({ spiffeId, serialNumber: svid.serialNumber, notAfter: svid.notAfter.toISOString() }, 'SVID issued');
      return { spiffeId, certificate: svid.certPem, bundle: svid.bundlePem, notBefore: svid.notBefore.toISOString(), notAfter: svid.notAfter.toISOString(), serialNumber: svid.serialNumber };
    } catch (e) {
      if (isUserError(e) && e.code !== 'store') throw new ApiError(400, 'bad-request', e.message);
      throw e;
    }
  });

  app.get<{ Querystring: Query }>('/api/v1/identities', {
    config: { permission: 'read' },
    schema: {
      summary: 'Service identities of live deployments: images, signature, vulnerabilities, build commit and repository, labels, service account, SPIFFE ID',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          cluster: { type: 'string', description: 'only this cluster (by name)' },
          namespace: { type: 'string' },
          trustDomain: { type: 'string', default: DEFAULT_TRUST_DOMAIN, maxLength: 255, description: 'the SPIFFE trust domain the IDs are formed in' },
          ...pageQuerySchema,
        },
      },
      response: { 200: pageSchema(identitySchema), 400: errorSchema },
    },
  }, async (req) => {
    const { cluster, namespace, limit } = req.query;
    let trustDomain: string;
    try {
      trustDomain = checkTrustDomain(req.query.trustDomain);
    } catch (e) {
      throw new ApiError(400, 'bad-request', isUserError(e) ? e.message : 'bad trust domain');
    }
    const cursor = decodeCursor(req.query.cursor);
    let q = ctx.db.selectFrom('deployments').innerJoin('sources', 'sources.id', 'deployments.source_id')
      .select(['deployments.id', 'deployments.source_id', 'deployments.kind', 'deployments.namespace', 'deployments.name', 'deployments.images', 'sources.name as source_name', 'sources.kind as source_kind'])
      .where('deployments.deleted_at', 'is', null);
    if (cluster) q = q.where('sources.name', '=', cluster).where('sources.kind', '=', 'cluster');
    if (namespace) q = q.where('deployments.namespace', '=', namespace);
    if (cursor) q = q.where('deployments.id', '>', cursor.id);
    const rows = await q.orderBy('deployments.id').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    if (!page.length) return { items: [], nextCursor: null };

    const items: ServiceIdentity[] = await identitiesOfDeployments(ctx, page, trustDomain);
    return { items, nextCursor: rows.length > limit ? encodeCursor({ k: null, id: page[page.length - 1]!.id }) : null };
  });
};
