/**
 * The service identities of one source's live deployments (src/identity ServiceIdentity),
 * built from Central's store the way `GET /api/v1/identities` builds them: the workload's
 * object, the stored scans of its images (digest, signature, vulnerability counts, build
 * provenance) and, on plain hosts, the engine's image labels. Used by the connection-policy
 * job (connection-policies.ts), which needs every identity of a source at once.
 *
 * The API handler (src/central/api/identities.ts) holds the same assembly inline; it should
 * call this instead (one copy) — noted in docs/notes/network-graph.md.
 */
import { buildServiceIdentity, countsFromSeverities, type ImageFactsForIdentity } from '../../identity/record.js';
import { DEFAULT_TRUST_DOMAIN } from '../../identity/spiffe.js';
import type { ServiceIdentity } from '../../identity/types.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import type { CentralContext } from '../context.js';
import { canonicalRef } from '../live/image-catalog.js';
import type { ImageSummary } from '../store/images.js';
import { fromJson } from '../store/json.js';

interface StoredImage {
  digest: string;
  signature: { verified?: boolean; signers?: string[] } | null;
  summary: ImageSummary | null;
  scanned: boolean;
  provenance: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** `value` placed at `path` (a pod template inside its workload). */
function nest(path: readonly string[], value: Record<string, any>): Record<string, any> {
  return path.reduceRight<Record<string, any>>((inner, key) => ({ [key]: inner }), value);
}

/** A live deployment row with its source, as both callers read it. */
export interface IdentityDeploymentRow {
  id: string; source_id: string; kind: string; namespace: string; name: string; images: string | null;
  source_name: string; source_kind: string;
}

/** Above this many deployments the objects are read by source and kind rather than by name (SQL parameter limits). */
const BY_NAME_LIMIT = 500;

/** The identities of these deployments (any sources), in their order; `id` is the deployment id. */
export async function identitiesOfDeployments(ctx: Pick<CentralContext, 'db'>, rows: readonly IdentityDeploymentRow[], trustDomain = DEFAULT_TRUST_DOMAIN): Promise<ServiceIdentity[]> {
  if (!rows.length) return [];
  const sourceIds = [...new Set(rows.map((r) => r.source_id))];
  let objectsQuery = ctx.db.selectFrom('objects').select(['source_id', 'kind', 'namespace', 'name', 'body'])
    .where('source_id', 'in', sourceIds).where('deleted_at', 'is', null);
  objectsQuery = rows.length > BY_NAME_LIMIT
    ? objectsQuery.where('kind', 'in', [...new Set(rows.map((r) => r.kind))])
    : objectsQuery.where('name', 'in', [...new Set(rows.map((r) => r.name))]);
  const objects = await objectsQuery.execute();
  const objectOf = new Map(objects.map((o) => [`${o.source_id}\u001f${o.kind}\u001f${o.namespace}\u001f${o.name}`, o]));

  const images = await ctx.db.selectFrom('images').select(['digest', 'refs', 'signature', 'summary', 'scanned_at', 'has_sbom', 'provenance']).execute();
  const byDigest = new Map<string, StoredImage>();
  const byRef = new Map<string, StoredImage>();
  for (const r of images) {
    const img: StoredImage = {
      digest: r.digest,
      signature: fromJson(r.signature, null),
      summary: fromJson<ImageSummary | null>(r.summary, null),
      scanned: r.scanned_at !== null || r.has_sbom === 1,
      provenance: fromJson<StoredImage['provenance']>(r.provenance, {}),
    };
    byDigest.set(r.digest, img);
    for (const ref of fromJson<string[]>(r.refs, [])) byRef.set(canonicalRef(ref), img);
  }
  // Plain hosts: the engine's images (their labels), by image id.
  const hostImageIds = new Set<string>();
  for (const o of objects) if (o.kind === 'Container') {
    const id = (fromJson<Record<string, any>>(o.body, {}) as { Image?: unknown }).Image;
    if (typeof id === 'string') hostImageIds.add(id);
  }
  const hostImages = hostImageIds.size
    ? await ctx.db.selectFrom('objects').select(['source_id', 'uid', 'body']).where('source_id', 'in', sourceIds).where('kind', '=', 'Image').where('uid', 'in', [...hostImageIds]).where('deleted_at', 'is', null).execute()
    : [];
  const hostImageLabels = new Map(hostImages.map((i) => [`${i.source_id}\u001f${i.uid}`, fromJson<Record<string, any>>(i.body, {}).Config?.Labels as Record<string, string> | undefined]));

  const lookup = (sourceId: string, ref: string, imageId?: string): ImageFactsForIdentity | undefined => {
    const at = ref.indexOf('@');
    const stored = (at >= 0 ? byDigest.get(ref.slice(at + 1)) : undefined) ?? byRef.get(canonicalRef(ref)) ?? (imageId ? byDigest.get(imageId) : undefined);
    // The engine's labels of a host image, else the labels pushed with the stored image.
    const labels = (imageId ? hostImageLabels.get(`${sourceId}\u001f${imageId}`) : undefined) ?? stored?.provenance.labels;
    const annotations = stored?.provenance.annotations;
    if (!stored && !labels) return undefined;
    return {
      ...(stored ? { digest: stored.digest } : imageId ? { digest: imageId } : {}),
      signature: stored?.signature ? { verified: stored.signature.verified === true, signers: stored.signature.signers ?? [] } : null,
      vulnerabilities: stored?.scanned ? countsFromSeverities(stored.summary?.counts.vulnerability) : null,
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    };
  };

  return rows.map((d) => {
    const o = objectOf.get(`${d.source_id}\u001f${d.kind}\u001f${d.namespace}\u001f${d.name}`);
    // No object stored (yet): the deployment's own image list stands in for its containers.
    const body = o ? fromJson<Record<string, any>>(o.body, {}) : d.kind === 'Container'
      ? { Config: { Image: fromJson<string[]>(d.images, [])[0] } }
      : nest(workloadKindOf(d.kind)?.template ?? [], { spec: { containers: fromJson<string[]>(d.images, []).map((image) => ({ image })) } });
    const where = d.source_kind === 'cluster' ? { cluster: d.source_name } : { host: d.source_name };
    const identity = buildServiceIdentity({ ...where, namespace: d.namespace, kind: d.kind, name: d.name, body }, {
      trustDomain,
      image: (ref, c) => lookup(d.source_id, ref, c.imageId),
    });
    return { id: d.id, ...identity };
  });
}

/** Every live deployment of the source, as a ServiceIdentity whose `id` is the deployment id. */
export async function sourceIdentities(ctx: Pick<CentralContext, 'db'>, sourceId: string, trustDomain = DEFAULT_TRUST_DOMAIN): Promise<ServiceIdentity[]> {
  const rows = await ctx.db.selectFrom('deployments').innerJoin('sources', 'sources.id', 'deployments.source_id')
    .select(['deployments.id', 'deployments.source_id', 'deployments.kind', 'deployments.namespace', 'deployments.name', 'deployments.images', 'sources.name as source_name', 'sources.kind as source_kind'])
    .where('deployments.source_id', '=', sourceId).where('deployments.deleted_at', 'is', null).execute();
  return identitiesOfDeployments(ctx, rows, trustDomain);
}
