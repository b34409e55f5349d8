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

/** Every live deployment of the source, as a ServiceIdentity whose `id` is the deployment id. */
export async function sourceIdentities(ctx: Pick<CentralContext, 'db'>, sourceId: string, trustDomain = DEFAULT_TRUST_DOMAIN): Promise<ServiceIdentity[]> {
  const source = await ctx.db.selectFrom('sources').select(['kind', 'name']).where('id', '=', sourceId).executeTakeFirst();
  if (!source) return [];
  const rows = await ctx.db.selectFrom('deployments').select(['id', 'kind', 'namespace', 'name', 'images'])
    .where('source_id', '=', sourceId).where('deleted_at', 'is', null).execute();
  if (!rows.length) return [];
  const objects = await ctx.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body'])
    .where('source_id', '=', sourceId).where('kind', 'in', [...new Set(rows.map((r) => r.kind))]).where('deleted_at', 'is', null).execute();
  const objectOf = new Map(objects.map((o) => [`${o.kind}\u001f${o.namespace}\u001f${o.name}`, o]));

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
  const hostImageIds = new Set<string>();
  for (const o of objects) if (o.kind === 'Container') {
    const id = (fromJson<Record<string, any>>(o.body, {}) as { Image?: unknown }).Image;
    if (typeof id === 'string') hostImageIds.add(id);
  }
  const hostImages = hostImageIds.size
    ? await ctx.db.selectFrom('objects').select(['uid', 'body']).where('source_id', '=', sourceId).where('kind', '=', 'Image').where('uid', 'in', [...hostImageIds]).where('deleted_at', 'is', null).execute()
    : [];
  const hostImageLabels = new Map(hostImages.map((i) => [i.uid, fromJson<Record<string, any>>(i.body, {}).Config?.Labels as Record<string, string> | undefined]));

  const lookup = (ref: string, imageId?: string): ImageFactsForIdentity | undefined => {
    const at = ref.indexOf('@');
    const stored = (at >= 0 ? byDigest.get(ref.slice(at + 1)) : undefined) ?? byRef.get(canonicalRef(ref)) ?? (imageId ? byDigest.get(imageId) : undefined);
    const labels = (imageId ? hostImageLabels.get(imageId) : undefined) ?? stored?.provenance.labels;
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

  const where = source.kind === 'cluster' ? { cluster: source.name } : { host: source.name };
  return rows.map((d) => {
    const o = objectOf.get(`${d.kind}\u001f${d.namespace}\u001f${d.name}`);
    const body = o ? fromJson<Record<string, any>>(o.body, {}) : d.kind === 'Container'
      ? { Config: { Image: fromJson<string[]>(d.images, [])[0] } }
      : nest(workloadKindOf(d.kind)?.template ?? [], { spec: { containers: fromJson<string[]>(d.images, []).map((image) => ({ image })) } });
    const identity = buildServiceIdentity({ ...where, namespace: d.namespace, kind: d.kind, name: d.name, body }, {
      trustDomain,
      image: (ref, c) => lookup(ref, c.imageId),
    });
    return { id: d.id, ...identity };
  });
}
