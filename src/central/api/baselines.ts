/**
 * Behavioural baselines kept by Central (issue 19 item 1; docs/notes/baseline-central.md):
 * one baseline per workload identity, merged over every sensor that pushes to it.
 *   GET  /api/v1/baselines[?deployment=ID][&state=learning|locked][&limit&cursor]   (read)
 *   GET  /api/v1/baselines/{workload}                                               (read)
 *   POST /api/v1/baselines/{workload}/lock | unlock | accept {item?}                (admin)
 *   POST /api/v1/ingest/baselines   a sensor's deltas; answers the merged baselines  (sensor)
 * {workload} is the identity URL-encoded (k8s:CLUSTER/NS/KIND/NAME/CONTAINER).
 */
import { CHANNELS } from '../../runtime/baseline/features.js';
import { HIST_BINS, type Baseline } from '../../runtime/baseline/baseline.js';
import { acceptMerged, lockMerged, unlockMerged, type BaselineDelta } from '../../runtime/baseline/merge.js';
import { applyBaselinePush, changeBaseline, getBaseline, learnUntil, listBaselines, specificItems, type BaselineQuery } from '../store/baselines.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY, decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';

/** A first push holds every item a workload learned: allow large bodies. */
export const BASELINE_BODY_LIMIT = 32 * 1024 * 1024;

const text = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const key = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const nsText = { type: 'string', pattern: '^[0-9]{1,24}$' } as const;
const channel = { type: 'string', enum: CHANNELS } as const;
const count = { type: 'integer', minimum: 0 } as const;

const identitySchema = {
  type: 'object', additionalProperties: false, required: ['id', 'kind', 'name', 'container'],
  properties: {
    id: { type: 'string', pattern: '^(k8s|host):', maxLength: 2048 },
    kind: { type: 'string', enum: ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Container', 'Host'] },
    namespace: text, name: text, container: text, image: text, cluster: text, host: text,
  },
} as const;

const hostDeviationSchema = {
  type: 'object', additionalProperties: false, required: ['item', 'channel', 'keys', 'score', 'count', 'firstSeen', 'lastSeen', 'containers'],
  properties: {
    item: key, channel, keys: { type: 'array', minItems: 1, maxItems: 16, items: key }, score: { type: 'number', minimum: 0 }, count,
    firstSeen: { type: 'string', format: 'date-time' }, lastSeen: { type: 'string', format: 'date-time' },
    containers: { type: 'array', maxItems: 64, items: text },
  },
} as const;

const deltaSchema = {
  type: 'object', additionalProperties: false,
  required: ['workload', 'epoch', 'learnMs', 'firstSeenNs', 'lastSeenNs', 'events', 'replicas', 'hist', 'items', 'deviations'],
  properties: {
    workload: identitySchema,
    epoch: count,
    learnMs: { type: 'integer', minimum: 1 },
    firstSeenNs: nsText, lastSeenNs: nsText,
    events: count,
    replicas: { type: 'array', maxItems: 64, items: text },
    hist: { type: 'array', maxItems: HIST_BINS, items: { type: 'array', minItems: 2, maxItems: 2, items: [{ type: 'integer', minimum: 0, maximum: HIST_BINS - 1 }, count] } },
    items: {
      type: 'array', maxItems: 200_000,
      items: { type: 'object', additionalProperties: false, required: ['ch', 'keys', 'n'], properties: { ch: channel, keys: { type: 'array', minItems: 1, maxItems: 16, items: key }, n: { type: 'integer', minimum: 1 } } },
    },
    deviations: { type: 'array', maxItems: 10_000, items: hostDeviationSchema },
  },
} as const;

const pushSchema = {
  type: 'object', additionalProperties: false, required: ['host', 'pushId', 'baselines'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 253 },
    pushId: { type: 'string', minLength: 8, maxLength: 128 },
    baselines: { type: 'array', maxItems: 10_000, items: deltaSchema },
  },
} as const;

const itemCounts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

/** One list row: the shape the console reads. */
export const baselineListItemSchema = {
  type: 'object', additionalProperties: false,
  required: ['workload', 'kind', 'name', 'container', 'state', 'observations', 'items', 'deviations', 'hosts'],
  properties: {
    workload: { type: 'string' }, cluster: { type: 'string' }, namespace: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' },
    container: { type: 'string' }, host: { type: 'string' }, state: { type: 'string', enum: ['learning', 'locked'] },
    learnUntil: { type: 'string' }, lockedAt: { type: 'string' }, observations: { type: 'integer' }, items: itemCounts,
    deviations: { type: 'integer' }, hosts: { type: 'array', items: { type: 'string' } },
  },
} as const;

const mergedDeviationSchema = {
  type: 'object', additionalProperties: false, required: ['item', 'channel', 'score', 'count', 'firstSeen', 'lastSeen', 'hosts', 'replicas'],
  properties: {
    item: { type: 'string' }, channel: { type: 'string' }, keys: { type: 'array', items: { type: 'string' } }, score: { type: 'number' }, count: { type: 'integer' },
    firstSeen: { type: 'string' }, lastSeen: { type: 'string' }, hosts: { type: 'array', items: { type: 'string' } }, replicas: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const baselineDetailSchema = {
  type: 'object', additionalProperties: false,
  required: ['workload', 'kind', 'name', 'container', 'state', 'epoch', 'learnMs', 'observations', 'replicas', 'hosts', 'items', 'deviations'],
  properties: {
    ...baselineListItemSchema.properties,
    epoch: { type: 'integer' }, learnMs: { type: 'integer' }, threshold: { type: 'number' }, targetPerDay: { type: 'number' },
    replicas: { type: 'array', items: { type: 'string' } },
    hosts: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['host', 'updatedAt', 'deviations'], properties: { host: { type: 'string' }, updatedAt: { type: 'string' }, deviations: { type: 'integer' } } } },
    items: { type: 'object', additionalProperties: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['item', 'count'], properties: { item: { type: 'string' }, count: { type: 'integer' } } } } },
    deviations: { type: 'array', items: mergedDeviationSchema },
  },
} as const;

const lifecycleSchema = {
  type: 'object', additionalProperties: false, required: ['workload', 'state', 'changed'],
  properties: {
    workload: { type: 'string' }, state: { type: 'string', enum: ['learning', 'locked'] }, changed: { type: 'boolean' },
    lockedAt: { type: 'string' }, learnUntil: { type: 'string' }, threshold: { type: 'number' }, learnMs: { type: 'integer' }, observations: { type: 'integer' },
    accepted: { type: 'array', items: { type: 'string' } },
  },
} as const;

const workloadParams = { type: 'object', additionalProperties: false, required: ['workload'], properties: { workload: { type: 'string', minLength: 1, maxLength: 2048 } } } as const;

const listQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    ...pageQuerySchema,
    deployment: { type: 'string', minLength: 1, maxLength: 600, description: "a Central deployment's id: its containers' baselines" },
    state: { type: 'string', enum: ['learning', 'locked'] },
  },
} as const;

export const baselinesApi: ApiModule = (app, ctx) => {
  const now = () => ctx.now().toISOString();
  const dialect = ctx.store.dialect;

  app.get<{ Querystring: { limit: number; cursor?: string; deployment?: string; state?: 'learning' | 'locked' } }>('/api/v1/baselines', {
    config: { permission: 'read' },
    schema: {
      summary: 'Behavioural baselines (one per workload identity, merged over every sensor), by workload id; ?deployment= gives one deployment\'s containers',
      querystring: listQuery,
      response: { 200: { type: 'object', additionalProperties: false, required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: baselineListItemSchema }, nextCursor: { type: ['string', 'null'] } } }, 400: errorSchema, 404: errorSchema },
    },
  }, async (req) => {
    const { limit, deployment, state } = req.query;
    const c = decodeCursor(req.query.cursor);
    let owner: BaselineQuery['owner'];
    if (deployment) {
      const d = await ctx.db.selectFrom('deployments').innerJoin('sources', 'sources.id', 'deployments.source_id')
        .select(['deployments.kind', 'deployments.namespace', 'deployments.name', 'sources.kind as source_kind', 'sources.name as source_name'])
        .where('deployments.id', '=', deployment).executeTakeFirst();
      if (!d) throw new ApiError(404, 'not-found', `no deployment ${deployment}`);
      owner = d.source_kind === 'cluster' ? { cluster: d.source_name, namespace: d.namespace, kind: d.kind, name: d.name } : { host: d.source_name, name: d.name };
    }
    const { items, more } = await listBaselines(ctx.db, { limit, ...(c ? { cursor: c.id } : {}), ...(state ? { state } : {}), ...(owner ? { owner } : {}) });
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor({ k: null, id: last.workload }) : null };
  });

  app.get<{ Params: { workload: string } }>('/api/v1/baselines/:workload', {
    config: { permission: 'read' },
    schema: { summary: 'One workload\'s merged baseline: learned items per channel with counts, deviations over every host, lifecycle', params: workloadParams, querystring: NO_QUERY, response: { 200: baselineDetailSchema, 404: errorSchema } },
  }, async (req) => {
    const s = await getBaseline(ctx.db, req.params.workload);
    if (!s) throw unknownWorkload(req.params.workload);
    const b = s.merged.baseline;
    const w = b.workload;
    const until = learnUntil(b);
    return {
      workload: w.id, ...(w.cluster ? { cluster: w.cluster } : {}), ...(w.namespace ? { namespace: w.namespace } : {}), kind: w.kind, name: w.name, container: w.container,
      ...(w.host ? { host: w.host } : {}), state: b.state, epoch: s.merged.epoch, learnMs: b.learnMs, ...(until ? { learnUntil: until } : {}), ...(b.lockedAt ? { lockedAt: b.lockedAt } : {}),
      observations: b.events, ...(b.calibration.threshold !== undefined ? { threshold: b.calibration.threshold, targetPerDay: (b.calibration.targetPerHour ?? 0) * 24 } : {}),
      replicas: b.replicas, hosts: s.hosts.map((h) => ({ host: h.host, updatedAt: h.updatedAt, deviations: h.deviations.length })),
      items: specificItems(b), deviations: s.deviations,
    };
  });

  const lifecycle = (action: 'lock' | 'unlock') => app.post<{ Params: { workload: string } }>(`/api/v1/baselines/:workload/${action}`, {
    config: { permission: 'admin' },
    schema: {
      summary: action === 'lock' ? 'End the observation window now: every sensor of the workload raises deviations from its next sync' : 'Start a new observation window: every sensor of the workload learns again',
      params: workloadParams, querystring: NO_QUERY, response: { 200: lifecycleSchema, 404: errorSchema },
    },
  }, async (req) => {
    const r = await changeBaseline(ctx.db, dialect, req.params.workload, now(), (m) => {
      if (action === 'lock') return { result: lockMerged(m, ctx.now()) };
      const changed = m.baseline.locked;
      if (changed) unlockMerged(m);
      return { result: changed };
    });
    if (!r) throw unknownWorkload(req.params.workload);
    if (r.result) ctx.events.emit('baselines', req.params.workload);
    return lifecycleAnswer(r.merged.baseline, r.result);
  });
  lifecycle('lock');
  lifecycle('unlock');

  app.post<{ Params: { workload: string }; Body: { item?: string } }>('/api/v1/baselines/:workload/accept', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Add observed deviations (one item, or all) to the baseline: every sensor of the workload stops flagging them from its next sync',
      params: workloadParams, querystring: NO_QUERY,
      body: { type: 'object', additionalProperties: false, properties: { item: key } },
      response: { 200: lifecycleSchema, 404: errorSchema },
    },
  }, async (req) => {
    const item = req.body?.item;
    let missing: string[] | undefined;
    const r = await changeBaseline(ctx.db, dialect, req.params.workload, now(), (m, devs) => {
      if (item !== undefined && !devs.some((d) => d.item === item)) {
        missing = devs.map((d) => d.item);
        return { result: [] as string[] };
      }
      const accepted = acceptMerged(m.baseline, devs, item);
      return { result: accepted, accepted };
    });
    if (!r) throw unknownWorkload(req.params.workload);
    if (missing) {
      throw new ApiError(404, 'not-found', `'${item}' is not a deviation of ${req.params.workload}${missing.length ? `; deviations: ${missing.slice(0, 5).map((x) => JSON.stringify(x)).join(', ')}${missing.length > 5 ? ', …' : ''}` : ' (it has none)'}`);
    }
    if (r.result.length > 0) ctx.events.emit('baselines', req.params.workload);
    return { ...lifecycleAnswer(r.merged.baseline, r.result.length > 0), accepted: r.result };
  });

  app.post<{ Body: { host: string; pushId: string; baselines: BaselineDelta[] } }>('/api/v1/ingest/baselines', {
    bodyLimit: BASELINE_BODY_LIMIT,
    config: { permission: 'ingest:events' },
    schema: {
      summary: "A sensor's baseline deltas (learned since its last push) and its deviations; answers the merged baselines and their lifecycle, which the sensor adopts",
      querystring: NO_QUERY, body: pushSchema,
      response: {
        200: {
          type: 'object', additionalProperties: false, required: ['baselines'],
          properties: { baselines: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['workload', 'state', 'epoch', 'baseline'], properties: { workload: { type: 'string' }, state: { type: 'string' }, epoch: { type: 'integer' }, baseline: { type: 'object', additionalProperties: true } } } } },
        },
        400: errorSchema,
      },
    },
  }, async (req) => {
    // Checks the schema cannot express, before anything is stored.
    const seen = new Set<string>();
    req.body.baselines.forEach((d, i) => {
      const where = `/baselines/${i}`;
      if (seen.has(d.workload.id)) throw new ApiError(400, 'bad-request', `${where}: workload ${d.workload.id} appears twice in one push`);
      seen.add(d.workload.id);
      d.deviations.forEach((v, j) => {
        if (v.item !== `${v.channel}:${v.keys[0]}`) throw new ApiError(400, 'bad-request', `${where}/deviations/${j}: item must be "${v.channel}:${v.keys[0]}" (channel:first key), got ${JSON.stringify(v.item)}`);
      });
    });
    const baselines = await applyBaselinePush(ctx.db, dialect, req.body, now());
    // A notice for the console only when something was observed: idle sensors sync every 30 s.
    if (req.body.baselines.some((d) => d.events > 0 || d.items.length > 0)) ctx.events.emit('baselines');
    return { baselines };
  });
};

function unknownWorkload(workload: string): ApiError {
  return new ApiError(404, 'not-found', `no baseline for workload '${workload}' (a sensor with --server creates it when it first sees the workload)`);
}

function lifecycleAnswer(b: Baseline, changed: boolean) {
  const until = learnUntil(b);
  return {
    workload: b.workload.id, state: b.state, changed, ...(b.lockedAt ? { lockedAt: b.lockedAt } : {}), ...(until ? { learnUntil: until } : {}),
    ...(b.calibration.threshold !== undefined && b.locked ? { threshold: b.calibration.threshold } : {}), learnMs: b.learnMs, observations: b.events,
  };
}
