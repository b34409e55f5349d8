/**
 * Which deployment an alert was raised in: a plain host's container by name, a pod by its
 * controller chain (Pod → ReplicaSet → Deployment, Pod → Job → CronJob) in the stored
 * inventory. Resolved once at ingest, so risk and the deployment view count alerts by a key.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { fromJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import { deploymentId } from './deployments.js';

type Db = Kysely<Database> | Transaction<Database>;

export class AlertOwners {
  private readonly sources = new Map<string, string | undefined>();

  constructor(private readonly db: Db) {}

  async deploymentOf(source: { cluster?: string; host?: string }, finding: Finding | undefined): Promise<string | undefined> {
    if (!finding) return undefined;
    if (source.host && finding.resource.container?.name && !finding.resource.k8s) {
      const sourceId = await this.sourceId('host', source.host);
      return sourceId ? this.existing(deploymentId(sourceId, 'Container', '', finding.resource.container.name)) : undefined;
    }
    const k8s = finding.resource.k8s;
    if (source.cluster && k8s?.name) {
      const sourceId = await this.sourceId('cluster', source.cluster);
      if (!sourceId) return undefined;
      let kind = k8s.kind;
      let name = k8s.name;
      const namespace = k8s.namespace ?? 'default';
      // Follow controllers up to the top-level workload (at most three hops: Pod → ReplicaSet → Deployment).
      for (let hop = 0; hop < 3; hop++) {
        const row = await this.db.selectFrom('objects').select('body').where('source_id', '=', sourceId).where('kind', '=', kind)
          .where('namespace', '=', namespace).where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
        const owner = row ? (fromJson<{ metadata?: { ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] } }>(row.body, {}).metadata?.ownerReferences ?? [])
          .find((r) => r.controller && r.kind && r.name && workloadKindOf(r.kind)?.runsPods) : undefined;
        if (!owner) break;
        kind = owner.kind!;
        name = owner.name!;
      }
      return this.existing(deploymentId(sourceId, kind, namespace, name));
    }
    return undefined;
  }

  private async sourceId(kind: 'cluster' | 'host', name: string): Promise<string | undefined> {
    const key = `${kind}/${name}`;
    if (!this.sources.has(key)) {
      const row = await this.db.selectFrom('sources').select('id').where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
      this.sources.set(key, row?.id);
    }
    return this.sources.get(key);
  }

  private async existing(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('deployments').select('id').where('id', '=', id).executeTakeFirst();
    return row?.id;
  }
}
