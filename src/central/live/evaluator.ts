/**
 * Continuous evaluation of the live inventory. Every object change marks the deployments
 * it can affect; a debounced pass then, for each marked deployment, runs the deploy-stage
 * policies through the one policy engine (violations go through their lifecycle) and
 * scores its risk. Each source's objects (pods aside) are kept in memory and updated per
 * change, so one change costs one object's read, not a reload of the cluster.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { liveObject } from '../../kube/cluster.js';
import type { ManifestObject } from '../../kube/manifests.js';
import { buildIndex, type ObjectIndex } from '../../kube/object-index.js';
import { loadRbacRisks, type RbacRisk } from '../../kube/rbac/risks.js';
import { findViolations } from '../../policy/evaluate.js';
import { fieldsOf } from '../../policy/criteria.js';
import type { ImageFacts } from '../../vuln/image-facts.js';
import { describeError } from '../../util/errors.js';
import type { CentralPolicies } from '../policies.js';
import { prepareCluster, scoreDeployment, type ImageRiskInput, type PreparedCluster, type SeverityCounts } from '../risk/index.js';
import { chunks, fromJson, toJson } from '../store/json.js';
import type { Database, DeploymentsTable } from '../store/schema.js';
import type { Finding } from '../../findings/finding.js';
import { reconcileManyViolations, resolveSubject } from '../store/violations.js';
import { deploymentId, imagesOf, isDeployment, labelsOf } from './deployments.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import type { ChangeListener } from './sink.js';
import { ImageCatalog, canonicalRef } from './image-catalog.js';
import { TimeSlice } from './slice.js';

/** Kinds whose change can alter other deployments' risk or violations (exposure, rights, isolation). */
const NAMESPACE_CONTEXT = new Set(['Service', 'Ingress', 'NetworkPolicy', 'Role', 'RoleBinding', 'ServiceAccount', 'ResourceQuota', 'LimitRange', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']);
const CLUSTER_CONTEXT = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy']);

interface SourceState {
  id: string;
  loaded: boolean;
  name: string;
  /** kind/namespace/name → object. */
  objects: Map<string, ManifestObject>;
  /** Deployments' keys by the images they run (digest or canonical reference), and by deployment id: a push or an alert marks only these. */
  imageUsers: Map<string, Set<string>>;
  imagesOfKey: Map<string, string[]>;
  keyOfId: Map<string, string>;
  index?: ObjectIndex;
  prepared?: PreparedCluster;
  /** Marks: deployment keys, namespaces whose deployments all need a pass, or everything. */
  keys: Set<string>;
  namespaces: Set<string>;
  all: boolean;
  /** Objects to re-read before the pass. */
  reread: Set<string>;
  /** The object index must be rebuilt (any object changed). */
  indexStale: boolean;
  /** The risk context must be prepared again (a Service, policy, binding… changed). */
  contextChanged: boolean;
}

/** Runtime risk counts the alerts of the last day. */
const ALERT_WINDOW_MS = 24 * 3_600_000;

/** Objects read per query when a source is loaded. */
const LOAD_PAGE = 2000;

/**
 * Deployments evaluated between two writes: their rows and violations go in one transaction
 * (one commit, and on PostgreSQL one BEGIN/COMMIT round trip pair, per batch instead of per
 * deployment), and the pass yields to the event loop after each. Small enough that a batch's
 * transaction holds SQLite's one connection for a few milliseconds at most.
 */
const WRITE_BATCH = 25;

/** What evaluating one deployment decided, written with its batch (writeDeployments). */
interface DeploymentWrite {
  row: Omit<DeploymentsTable, 'first_seen'>;
  findings: Finding[];
}

const keyOf = (kind: string, namespace: string, name: string) => `${kind}\u001f${namespace}\u001f${name}`;

export interface EvaluatorOptions {
  debounceMs?: number;
  onError?: (message: string) => void;
  /** After a pass that evaluated or removed deployments (their count). */
  onEvaluated?: (count: number) => void;
  /** Longest synchronous run (ms) of a load or pass before it yields to the event loop (slice.ts); tests use 0. */
  sliceMs?: number;
}

export class LiveEvaluator implements ChangeListener {
  private readonly sources = new Map<string, SourceState>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rbacRisks: RbacRisk[] | undefined;
  private readonly images: ImageCatalog;
  /** Deployment ids with new alerts since the last pass. */
  private alerted = new Set<string>();
  /** Canonical references and digests of images pushed since the last pass. */
  private changedImages = new Set<string>();
  /** Digests pushed since the last pass whose references the pass reads (imagePushed). */
  private pushedDigests = new Set<string>();
  /** Passes completed (tests wait on it). */
  passes = 0;
  private stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly policies: CentralPolicies,
    private readonly now: () => Date,
    private readonly options: EvaluatorOptions = {},
  ) {
    this.images = new ImageCatalog(db, () => this.slice());
  }

  /** Yields so far by this evaluator's loads and passes (tests read it). */
  yields = 0;

  /** A new time slice for one loop; its yields are counted on the evaluator. */
  private slice(): TimeSlice {
    return new TimeSlice(this.options.sliceMs, () => this.yields++);
  }

  changed(sourceId: string, kind: string, namespace: string, name: string): void {
    const s = this.state(sourceId);
    s.reread.add(keyOf(kind, namespace, name));
    if (NAMESPACE_CONTEXT.has(kind)) {
      s.namespaces.add(namespace);
      s.contextChanged = true;
    } else if (CLUSTER_CONTEXT.has(kind)) {
      s.all = true;
      s.contextChanged = true;
    } else {
      s.keys.add(keyOf(kind, namespace, name));
    }
    this.schedule();
  }

  /** Deployments (by id) whose alerts changed: their runtime risk is scored again. */
  alertsChanged(deploymentIds: readonly string[]): void {
    for (const id of deploymentIds) this.alerted.add(id);
    this.schedule();
  }

  /** One image changed (a push): only deployments running one of its references or its digest are evaluated again. */
  imageChanged(refsAndDigest: readonly string[]): void {
    this.images.refresh(refsAndDigest.filter((r) => r.startsWith('sha256:')));
    for (const r of refsAndDigest) this.changedImages.add(r.startsWith('sha256:') ? r : canonicalRef(r));
    this.schedule();
  }

  /**
   * An image was pushed (its digest only): the next pass reads the references of every digest
   * pushed meanwhile with one query, where the live job read each push's row on its own (one
   * PostgreSQL round trip a push, at 200 pushes a second).
   */
  imagePushed(digest: string): void {
    this.images.refresh([digest]);
    this.pushedDigests.add(digest);
    this.schedule();
  }

  /** Everything is evaluated again (policies, exceptions or images changed). */
  invalidateAll(what: 'policies' | 'images'): void {
    if (what === 'images') this.images.invalidate();
    for (const s of this.sources.values()) s.all = true;
    this.schedule();
  }

  /**
   * Evaluates a source from what the store holds, without waiting for its watcher: at start
   * (a restarted Central re-scores a cluster it cannot reach yet) and when a source is added.
   */
  track(sourceId: string): void {
    if (this.sources.has(sourceId)) return;
    this.state(sourceId);
    this.schedule();
  }

  /** Drops a removed source's in-memory objects. */
  forget(sourceId: string): void {
    this.sources.delete(sourceId);
  }

  /** Resolves when every marked change has been evaluated. */
  async settle(): Promise<void> {
    while (this.timer || this.running) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.startPass();
      }
      await this.running;
    }
  }

  /** Runs a pass after the one in flight; `running` is cleared when the last one ends. */
  private startPass(): void {
    const prev = this.running ?? Promise.resolve();
    const next: Promise<void> = prev.then(() => this.pass()).finally(() => {
      if (this.running === next) this.running = undefined;
    });
    this.running = next;
  }

  /**
   * No pass starts after this, and one in flight ends at its next batch: on PostgreSQL the
   * live-inventory job is leased, and a job stopped because its lease was lost must not go on
   * writing while another instance (or this one's next evaluator) takes over. A heap snapshot
   * of bench:central under load held two evaluators, the stopped one mid-pass.
   */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves when no pass is in flight (after stop(): when the one in flight has ended). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private state(sourceId: string): SourceState {
    let s = this.sources.get(sourceId);
    if (!s) this.sources.set(sourceId, (s = { id: sourceId, loaded: false, name: sourceId, objects: new Map(), imageUsers: new Map(), imagesOfKey: new Map(), keyOfId: new Map(), keys: new Set(), namespaces: new Set(), all: true, reread: new Set(), indexStale: true, contextChanged: true }));
    return s;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startPass();
    }, this.options.debounceMs ?? 200);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const alerted = this.alerted;
    this.alerted = new Set();
    const images = this.changedImages;
    this.changedImages = new Set();
    await this.addPushedRefs(images);
    let evaluated = 0;
    for (const [sourceId, s] of this.sources) {
      if (this.stopped) break;
      // Only pushed images or new alerts, nothing re-read: the pass visits the deployments they name.
      const targeted = s.loaded && !s.all && s.reread.size === 0 && s.keys.size === 0 && s.namespaces.size === 0 && !s.contextChanged;
      try {
        evaluated += targeted ? await this.passTargeted(sourceId, s, alerted, images) : await this.passSource(sourceId, s, alerted, images);
      } catch (e) {
        // A targeted pass does not check every deployment's row: after a failure, the next pass does.
        if (targeted) s.all = true;
        this.options.onError?.(`evaluation of source ${s.name}: ${describeError(e)}`);
      }
    }
    this.passes++;
    if (evaluated > 0) this.options.onEvaluated?.(evaluated);
  }

  /** Adds the pushed digests and their references to a pass's changed images; if they cannot be read, every image counts as changed. */
  private async addPushedRefs(images: Set<string>): Promise<void> {
    if (this.pushedDigests.size === 0) return;
    const digests = [...this.pushedDigests];
    this.pushedDigests = new Set();
    try {
      for (const part of chunks(digests, 500)) {
        for (const r of await this.db.selectFrom('images').select(['digest', 'refs']).where('digest', 'in', part).execute()) {
          for (const ref of fromJson<string[]>(r.refs, [])) images.add(canonicalRef(ref));
        }
      }
      for (const d of digests) images.add(d);
    } catch (e) {
      this.options.onError?.(`references of pushed images: ${describeError(e)}`);
      this.images.invalidate();
      for (const s of this.sources.values()) s.all = true;
    }
  }

  /**
   * A pass for pushed images and alerts only: the deployments running those images (the
   * source's image index) and those alerted, found without walking every object, their rows
   * and alert counts read for them alone. What else a full pass does (rows missing or deleted,
   * objects gone) only follows from object changes, which take the full pass.
   */
  private async passTargeted(sourceId: string, s: SourceState, alerted: ReadonlySet<string>, images: ReadonlySet<string>): Promise<number> {
    const keys = new Set<string>();
    for (const image of images) for (const key of s.imageUsers.get(image) ?? []) keys.add(key);
    for (const id of alerted) {
      const key = s.keyOfId.get(id);
      if (key) keys.add(key);
    }
    if (keys.size === 0) return 0;
    const targets = [...keys].flatMap((key) => {
      const object = s.objects.get(key);
      if (!object) return [];
      const [kind, namespace, name] = key.split('\u001f') as [string, string, string];
      return [{ key, object, meta: { kind, namespace, name, body: object.raw }, id: deploymentId(sourceId, kind, namespace, name) }];
    });
    // No read of the targets' rows: the batch's upsert keeps first_seen on those that exist.
    const ids = targets.map((t) => t.id);
    const now = this.now();
    const alerts = await this.alertCounts(sourceId, now, ids);
    const batch: DeploymentWrite[] = [];
    const slice = this.slice();
    let count = 0;
    for (const t of targets) {
      count++;
      if (!(await this.addWrite(batch, await this.evaluateDeployment(sourceId, s, t.id, t.object, t.meta, now, alerts.get(t.id)), now, slice))) return count;
    }
    await this.writeDeployments(batch, now);
    return count;
  }

  /** Returns how many deployments it evaluated or marked deleted. */
  private async passSource(sourceId: string, s: SourceState, alerted: ReadonlySet<string>, images: ReadonlySet<string>): Promise<number> {
    // What this pass re-reads and what it evaluates are taken together, before any await: a
    // change that arrives while the pass reads the store keeps both its object and its marks
    // for the next pass. (Taken apart, a Service arriving mid-read had its namespace evaluated
    // without the Service, and the next pass, which read it, no longer had the mark.)
    const rereadKeys = [...s.reread];
    s.reread.clear();
    const marked = { keys: s.keys, namespaces: s.namespaces, all: s.all || !s.loaded, alerted };
    s.keys = new Set();
    s.namespaces = new Set();
    s.all = false;
    let contextChanged = s.contextChanged || !s.loaded;
    s.contextChanged = false;
    // A first load reads every object (changes that arrive meanwhile are re-read next pass).
    if (!s.loaded) await this.load(sourceId, s);
    else if (this.reread(s, await this.readRows(sourceId, rereadKeys))) contextChanged = true;
    if (s.indexStale || !s.index) {
      s.index = buildIndex([...s.objects.values()]);
      s.indexStale = false;
    }
    if (contextChanged) s.prepared = undefined;
    const now = this.now();
    const at = now.toISOString();
    // Only what the pass decides on: reading every row's risk JSON per pass cost an image push at
    // 15,000 deployments most of its CPU (bench:central), and evaluation writes the row whole.
    const existing = new Map((await this.db.selectFrom('deployments').select(['id', 'deleted_at'])
      .where('source_id', '=', sourceId).execute()).map((r) => [r.id, r]));
    const alerts = await this.alertCounts(sourceId, now);
    const seen = new Set<string>();
    let count = 0;
    const batch: DeploymentWrite[] = [];
    const slice = this.slice();
    for (const [key, object] of s.objects) {
      // The stored row's kind/namespace/name (the key), not the body's: host containers' inspect names differ in form.
      const [kind, namespace, name] = key.split('\u001f') as [string, string, string];
      const meta = { kind, namespace, name, body: object.raw };
      if (!isDeployment(meta)) continue;
      const id = deploymentId(sourceId, meta.kind, meta.namespace, meta.name);
      seen.add(id);
      if (!(marked.all || marked.keys.has(key) || marked.alerted.has(id) || marked.namespaces.has(meta.namespace) || !existing.has(id) || existing.get(id)!.deleted_at || (images.size > 0 && runsAny(s, key, images)))) continue;
      count++;
      if (!(await this.addWrite(batch, await this.evaluateDeployment(sourceId, s, id, object, meta, now, alerts.get(id)), now, slice))) return count;
    }
    await this.writeDeployments(batch, now);
    // Deployments whose object is gone: kept with deleted_at, their violations resolved.
    for (const [id, row] of existing) {
      if (seen.has(id) || row.deleted_at) continue;
      await this.db.transaction().execute(async (trx) => {
        await trx.updateTable('deployments').set({ deleted_at: at, last_seen: at }).where('id', '=', id).execute();
        await resolveSubject(trx, 'deployment', id, now);
      });
      count++;
    }
    return count;
  }

  private async evaluateDeployment(
    sourceId: string, s: SourceState, id: string, object: ManifestObject,
    meta: { kind: string; namespace: string; name: string; body: Record<string, any> },
    now: Date,
    alerts: SeverityCounts | undefined,
  ): Promise<DeploymentWrite> {
    const at = now.toISOString();
    const images = imagesOf(meta);
    let imageFacts: ((ref: string) => ImageFacts | undefined) | undefined;
    if (meta.kind !== 'Container' && this.readsImageFacts()) {
      // image.* fields are read synchronously by the policy engine: load the facts first.
      const facts = new Map<string, ImageFacts>();
      for (const ref of images) {
        const f = await this.images.factsFor(ref, now);
        if (f) facts.set(ref, f);
      }
      imageFacts = (ref) => facts.get(ref);
    }
    const findings = meta.kind === 'Container' ? [] : findViolations({ kind: 'workload', value: { objects: [object], index: s.index, cluster: s.name, ...(imageFacts ? { imageFacts } : {}) } }, this.policies.set, 'deploy');
    const imageInputs: ImageRiskInput[] = [];
    for (const ref of images) {
      const img = await this.images.lookup(ref);
      if (img) imageInputs.push(img);
    }
    const risk = scoreDeployment({ workload: meta.body, images: imageInputs, cluster: await this.cluster(s), runtime: alerts ? { alerts } : {}, now });
    const row = {
      id, source_id: sourceId, namespace: meta.namespace, kind: meta.kind, name: meta.name,
      labels: toJson(labelsOf(meta)), images: toJson(images), risk_score: Math.round(risk.score * 1000) / 1000, risk: toJson(risk),
      last_seen: at, deleted_at: null,
    };
    return { row, findings };
  }

  /**
   * Adds an evaluated deployment to its pass's batch; a full batch is written, then the pass
   * yields (better-sqlite3 is synchronous: a long pass must not keep the API waiting). Between
   * writes it yields whenever its time slice is used up: 25 evaluations ran 30–100 ms at once
   * on PostgreSQL (bench:central profile). False when the evaluator was stopped meanwhile: the
   * pass ends there.
   */
  private async addWrite(batch: DeploymentWrite[], write: DeploymentWrite, now: Date, slice: TimeSlice): Promise<boolean> {
    batch.push(write);
    if (batch.length < WRITE_BATCH) {
      await slice.check();
      return !this.stopped;
    }
    await this.writeDeployments(batch.splice(0), now);
    await yieldToEventLoop();
    slice.reset();
    return !this.stopped;
  }

  /** Writes a batch of evaluated deployments and their violations in one transaction (all or none). */
  private async writeDeployments(writes: readonly DeploymentWrite[], now: Date): Promise<void> {
    if (writes.length === 0) return;
    const at = now.toISOString();
    // One upsert for the batch's rows (first_seen kept on rows that exist) and one reconcile for
    // their violations: per deployment that was four round trips on PostgreSQL.
    // Every column an evaluation writes, but the key: taken from the row, so none is left behind.
    const updatedColumns = Object.keys(writes[0]!.row).filter((c) => c !== 'id') as (keyof Omit<DeploymentsTable, 'id' | 'first_seen'>)[];
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('deployments').values(writes.map(({ row }) => ({ ...row, first_seen: at })))
        .onConflict((oc) => oc.column('id').doUpdateSet((eb) => Object.fromEntries(updatedColumns.map((c) => [c, eb.ref(`excluded.${c}`)])) as never)).execute();
      await reconcileManyViolations(trx, writes.map(({ row, findings }) => ({ subjectKind: 'deployment', subjectKey: row.id, stage: 'deploy', findings })), this.policies.exceptions, now);
    });
  }

  private imageFieldsFor = -1;
  private imageFields = false;

  /** Whether any enabled deploy policy over workloads reads image.* fields (checked once per policy change). */
  private readsImageFacts(): boolean {
    if (this.imageFieldsFor !== this.policies.version) {
      this.imageFieldsFor = this.policies.version;
      this.imageFields = this.policies.set.policiesFor('workload').some((p) => p.stages.includes('deploy') && fieldsOf(p.criteria).some((f) => f.startsWith('image.')));
    }
    return this.imageFields;
  }

  /** Alerts of the last day per deployment of a source (or of these deployments), by severity (one grouped query per pass). */
  private async alertCounts(sourceId: string, now: Date, ids?: readonly string[]): Promise<Map<string, SeverityCounts>> {
    const since = new Date(now.getTime() - ALERT_WINDOW_MS).toISOString();
    const query = this.db.selectFrom('events').select(['deployment_id', 'severity', (eb) => eb.fn.countAll<number>().as('n')])
      .where('type', '=', 'alert').where('time', '>=', since);
    const rows = ids
      ? (await Promise.all(chunks([...ids], 500).map((part) => query.where('deployment_id', 'in', part).groupBy(['deployment_id', 'severity']).execute()))).flat()
      : await query.where('deployment_id', 'in', (eb) => eb.selectFrom('deployments').select('id').where('source_id', '=', sourceId))
        .groupBy(['deployment_id', 'severity']).execute();
    const out = new Map<string, SeverityCounts>();
    for (const r of rows) {
      if (!r.deployment_id) continue;
      let c = out.get(r.deployment_id);
      if (!c) out.set(r.deployment_id, (c = { critical: 0, high: 0, medium: 0, low: 0 }));
      const key = r.severity.toLowerCase() as keyof SeverityCounts;
      if (key in c) c[key] += Number(r.n);
    }
    return out;
  }

  private async cluster(s: SourceState): Promise<PreparedCluster> {
    if (s.prepared) return s.prepared;
    this.rbacRisks ??= await loadRbacRisks();
    const of = (kind: string) => [...s.objects.values()].filter((o) => o.kind === kind).map((o) => o.raw);
    try {
      s.prepared = prepareCluster({
        services: of('Service'), ingresses: of('Ingress'), networkPolicies: of('NetworkPolicy'), roles: of('Role'), clusterRoles: of('ClusterRole'),
        roleBindings: of('RoleBinding'), clusterRoleBindings: of('ClusterRoleBinding'), serviceAccounts: of('ServiceAccount'), namespaces: of('Namespace'),
      }, { rbacRisks: this.rbacRisks });
    } catch (e) {
      this.options.onError?.(`risk context of source ${s.name}: ${describeError(e)}`);
      s.prepared = prepareCluster({}, { rbacRisks: [] });
    }
    return s.prepared;
  }

  private async load(sourceId: string, s: SourceState): Promise<void> {
    const src = await this.db.selectFrom('sources').select('name').where('id', '=', sourceId).executeTakeFirst();
    s.name = src?.name ?? sourceId;
    s.objects.clear();
    s.imageUsers.clear();
    s.imagesOfKey.clear();
    s.keyOfId.clear();
    // In pages, so a large cluster's bodies are never all in memory as text at once; a page's
    // 2,000 bodies parsed at once held the event loop 40–150 ms on PostgreSQL: time slices.
    let after = { kind: '', namespace: '', name: '' };
    const slice = this.slice();
    for (;;) {
      const rows = await this.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', sourceId).where('deleted_at', 'is', null)
        .where((eb) => eb.or([
          eb('kind', '>', after.kind),
          eb.and([eb('kind', '=', after.kind), eb('namespace', '>', after.namespace)]),
          eb.and([eb('kind', '=', after.kind), eb('namespace', '=', after.namespace), eb('name', '>', after.name)]),
        ]))
        .orderBy('kind').orderBy('namespace').orderBy('name').limit(LOAD_PAGE).execute();
      slice.reset();
      for (const r of rows) {
        this.keep(s, r.kind, r.namespace, r.name, r.body);
        await slice.check();
      }
      if (rows.length < LOAD_PAGE) break;
      const last = rows[rows.length - 1]!;
      after = { kind: last.kind, namespace: last.namespace, name: last.name };
    }
    s.loaded = true;
    s.indexStale = true;
  }

  /**
   * Keeps what evaluation reads: top-level workloads, host containers and context objects.
   * Owned workloads (a Deployment's ReplicaSets, a CronJob's Jobs, controlled Pods) stay in
   * the store only, and bodies lose their status and last-applied copy, so 15,000
   * deployments fit in memory.
   */
  private keep(s: SourceState, kind: string, namespace: string, name: string, text: string): void {
    const key = keyOf(kind, namespace, name);
    const body = fromJson<Record<string, any>>(text, {});
    if (workloadKindOf(kind)?.runsPods && !isDeployment({ kind, namespace, name, body })) {
      this.drop(s, key);
      return;
    }
    if (body.kind !== undefined) {
      delete body.status;
      const annotations = body.metadata?.annotations as Record<string, string> | undefined;
      if (annotations) delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
    }
    const object = asManifest(body, s.name);
    s.objects.set(key, object);
    const meta = { kind, namespace, name, body: object.raw };
    if (isDeployment(meta)) this.index(s, key, deploymentId(s.id, kind, namespace, name), imageKeys(meta));
    else this.unindex(s, key);
  }

  /** Forgets an object, and its place in the image and id indexes. */
  private drop(s: SourceState, key: string): void {
    s.objects.delete(key);
    this.unindex(s, key);
  }

  private index(s: SourceState, key: string, id: string, images: string[]): void {
    this.unindex(s, key);
    s.keyOfId.set(id, key);
    s.imagesOfKey.set(key, images);
    for (const image of images) {
      let users = s.imageUsers.get(image);
      if (!users) s.imageUsers.set(image, (users = new Set()));
      users.add(key);
    }
  }

  private unindex(s: SourceState, key: string): void {
    const images = s.imagesOfKey.get(key);
    if (!images) return;
    s.imagesOfKey.delete(key);
    const [kind, namespace, name] = key.split('\u001f') as [string, string, string];
    s.keyOfId.delete(deploymentId(s.id, kind, namespace, name));
    for (const image of images) {
      const users = s.imageUsers.get(image);
      users?.delete(key);
      if (users?.size === 0) s.imageUsers.delete(image);
    }
  }

  /** The stored bodies of these objects (undefined: deleted), read before any of them is applied. */
  private async readRows(sourceId: string, keys: readonly string[]): Promise<[string, string | undefined][]> {
    const rows: [string, string | undefined][] = [];
    for (const key of keys) {
      const [kind, namespace, name] = key.split('\u001f') as [string, string, string];
      rows.push([key, (await this.liveRow(sourceId, kind, namespace, name))?.body]);
    }
    return rows;
  }

  /** Applies re-read objects; true when one of them is context (the risk context must be prepared again). */
  private reread(s: SourceState, rows: readonly [string, string | undefined][]): boolean {
    let context = false;
    for (const [key, body] of rows) {
      const [kind, namespace, name] = key.split('\u001f') as [string, string, string];
      if (body !== undefined) this.keep(s, kind, namespace, name, body);
      else this.drop(s, key);
      if (NAMESPACE_CONTEXT.has(kind) || CLUSTER_CONTEXT.has(kind)) context = true;
    }
    if (rows.length) s.indexStale = true;
    return context;
  }


  private liveRow(sourceId: string, kind: string, namespace: string, name: string) {
    return this.db.selectFrom('objects').select('body').where('source_id', '=', sourceId).where('kind', '=', kind)
      .where('namespace', '=', namespace).where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
  }
}

/** What a deployment's images are known by when an image is pushed: each reference's digest, if pinned, and its canonical form. */
function imageKeys(meta: { kind: string; namespace: string; name: string; body: Record<string, any> }): string[] {
  const keys = new Set<string>();
  for (const ref of imagesOf(meta)) {
    const at = ref.indexOf('@');
    if (at >= 0) keys.add(ref.slice(at + 1));
    keys.add(canonicalRef(at >= 0 ? ref.slice(0, at) : ref));
  }
  return [...keys];
}

/** Whether a deployment runs one of these images (canonical references or digests). */
function runsAny(s: SourceState, key: string, images: ReadonlySet<string>): boolean {
  return (s.imagesOfKey.get(key) ?? []).some((image) => images.has(image));
}

function asManifest(raw: Record<string, any>, where: string): ManifestObject {
  if (raw.kind === undefined && raw.Config !== undefined) {
    // A plain-host container: only kind/name matter to the evaluator.
    return { apiVersion: 'v1', kind: 'Container', name: String(raw.Name ?? '').replace(/^\//, ''), namespace: '', labels: raw.Config?.Labels ?? {}, annotations: {}, raw, source: { file: where, line: 0, column: 0 }, known: false, positionOf: () => ({ file: '', line: 0, column: 0 }) };
  }
  return liveObject(raw as never, where);
}
