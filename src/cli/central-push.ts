/**
 * What the engine commands push to Central with `--server` (issue 16 item 5): each command's
 * results turned into the ingest contract (src/central/client/ingest-types.ts) and sent.
 *   one-shot commands  image scan/sbom/verify → POST /api/v1/ingest/images
 *                      k8s check, registry audit → POST /api/v1/ingest/findings
 *                      runtime replay → POST /api/v1/ingest/events (batches, stable ids)
 *   long-running       sensor, engine-proxy → EventShipper (disk spool, at least once)
 * A one-shot push runs after the report is written; its failure is one UserError line
 * (exit 2). Event ids are idempotency keys: the same event pushed again is a duplicate.
 */
import { createHash, randomUUID } from 'node:crypto';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CentralError, type CentralClient } from '../central/client/client.js';
import { ADDRESSED_PUSH_TYPE, addressedImageReport, type EventBatch, type FindingsReport, type ImageReport, type IngestEvent, type IngestResult } from '../central/client/ingest-types.js';
import { EventShipper } from '../central/client/shipper.js';
import { openSpool, type Spool } from '../central/client/spool.js';
import type { AuditRecord, AuditSink } from '../engine-proxy/audit.js';
import type { Finding, ResourceRef } from '../findings/finding.js';
import type { Inventory } from '../inventory/index.js';
import { writeCycloneDx } from '../inventory/sbom/cyclonedx.js';
import { alertToFinding, type Alert } from '../runtime/alerts/alert.js';
import type { AlertSink } from '../runtime/alerts/sinks.js';
import { UserError, describeError } from '../util/errors.js';
import { GATEHOUSE_VERSION } from '../version.js';

/** Bytes the spool of a long-running command may hold while Central is unreachable. */
export const DEFAULT_SPOOL_BYTES = 256 << 20;
/** Events per request of `runtime replay` (Central takes at most 10,000). */
const REPLAY_BATCH = 1000;

/** `--spool-dir`, for the commands that push through a disk spool (sensor, engine-proxy). */
export function addSpoolOption(cmd: Command): Command {
  return cmd.option('--spool-dir <dir>', 'with --server or --nats: where events wait while Central (or NATS) is unreachable (default: $XDG_STATE_HOME/gatehouse/spool/<command>)');
}

/** $XDG_STATE_HOME/gatehouse/spool/<command>, or ~/.local/state/gatehouse/spool/<command>. */
export function defaultSpoolDir(command: string, env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(state, 'gatehouse', 'spool', command);
}

// ---------------------------------------------------------------- contract shapes

/**
 * A Finding with only the fields of the contract: Central's schema refuses unknown fields,
 * and engines may carry extra ones at run time.
 */
export function contractFinding(f: Finding): Finding {
  const out: Finding = { id: f.id, kind: f.kind, severity: f.severity, title: f.title, resource: contractResource(f.resource ?? {}) };
  if (f.fingerprint !== undefined) out.fingerprint = f.fingerprint;
  if (f.detail !== undefined) out.detail = f.detail;
  if (f.policy) out.policy = pick(f.policy, ['id', 'name', 'enforcement']) as Finding['policy'];
  if (f.remediation !== undefined) out.remediation = f.remediation;
  if (f.references?.length) out.references = f.references;
  if (f.data !== undefined) out.data = f.data;
  return out;
}

function contractResource(r: ResourceRef): ResourceRef {
  const out: ResourceRef = {};
  if (r.image) out.image = pick(r.image, ['ref', 'digest', 'layer', 'layerDigest', 'path']);
  if (r.k8s) out.k8s = pick(r.k8s, ['kind', 'namespace', 'name', 'container', 'file', 'line']) as ResourceRef['k8s'];
  if (r.file) out.file = pick(r.file, ['path', 'line', 'column']) as ResourceRef['file'];
  if (r.container) out.container = pick(r.container, ['id', 'name', 'image']) as ResourceRef['container'];
  if (r.host !== undefined) out.host = r.host;
  return out;
}

function pick<T extends object>(o: T, keys: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out as Partial<T>;
}

/** An RFC 3339 time Central's `date-time` accepts, or undefined for a missing or unparseable one. */
function rfc3339(time: string | undefined): string | undefined {
  if (!time) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The CycloneDX 1.6 JSON of an image's inventory, as `image sbom --format cyclonedx` writes it. */
export function cycloneDxSbom(ref: string, digest: string, inventory: Inventory): Record<string, unknown> {
  return JSON.parse(writeCycloneDx({ target: { kind: 'image', name: ref, digest }, inventory, toolVersion: GATEHOUSE_VERSION })) as Record<string, unknown>;
}

export interface ImagePush {
  digest: string;
  refs?: string[];
  os?: Inventory['os'];
  created?: string;
  layers?: { digest: string; size?: number; createdBy?: string }[];
  sbom?: Record<string, unknown>;
  findings?: Finding[];
  signature?: ImageReport['signature'];
  db?: ImageReport['db'];
  /** Config labels and manifest annotations (build provenance). */
  labels?: Record<string, string> | null;
  annotations?: Record<string, string>;
}

export function imageReport(p: ImagePush): ImageReport {
  const image: ImageReport['image'] = { digest: p.digest };
  if (p.refs?.length) image.refs = [...new Set(p.refs)];
  if (p.os?.id) image.os = { family: p.os.id, ...(p.os.versionId ? { version: p.os.versionId } : {}) };
  const created = rfc3339(p.created);
  if (created) image.created = created;
  if (p.layers) image.layers = p.layers.map((l) => ({ digest: l.digest, ...(l.size !== undefined ? { size: l.size } : {}), ...(l.createdBy ? { createdBy: l.createdBy } : {}) }));
  if (p.labels && Object.keys(p.labels).length) image.labels = p.labels;
  if (p.annotations && Object.keys(p.annotations).length) image.annotations = p.annotations;
  const report: ImageReport = { image };
  if (p.sbom) report.sbom = p.sbom;
  if (p.findings) report.findings = p.findings.map(contractFinding);
  if (p.signature) report.signature = p.signature;
  if (p.db && (p.db.version || p.db.updatedAt)) report.db = pick(p.db, ['version', 'updatedAt']);
  return report;
}

// ---------------------------------------------------------------- one-shot pushes

/** Runs a push, turning its failure into one line that says the report itself was written. */
async function pushing<T>(client: CentralClient, what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (e) {
    throw new UserError(`the report was written, but pushing ${what} to Central failed: ${describeError(e)}`, 'central', { cause: e });
  } finally {
    await client.close();
  }
}

/** `POST /api/v1/ingest/images`; a second push of the same digest updates that image. */
export async function pushImageReport(client: CentralClient, p: ImagePush): Promise<{ digest: string; created: boolean }> {
  const body = imageReport(p);
  let byAddress: ImageReport | undefined;
  const res = await pushing(client, `image ${p.digest}`, async () => {
    // The SBOM's component list and the vulnerability findings (most of the body) by address
    // first: a rebuild's are usually in Central already. Sent whole only when Central says it
    // lacks some.
    const addressed = addressedImageReport(body);
    if (addressed) {
      try {
        const r = await client.post<{ digest: string; created: boolean }>('/api/v1/ingest/images', addressed, { contentType: ADDRESSED_PUSH_TYPE });
        byAddress = addressed;
        return r;
      } catch (e) {
        // 409: Central lacks the list; 415: a Central that predates pushes by address.
        const sendWhole = e instanceof CentralError && ((e.status === 409 && e.error === 'missing-content') || e.status === 415);
        if (!sendWhole) throw e;
      }
    }
    return client.post<{ digest: string; created: boolean }>('/api/v1/ingest/images', body);
  });
  note(`pushed image ${p.digest} to ${client.server} (${res.created ? 'new' : 'updated'}${body.findings ? `, ${body.findings.length} findings` : ''}${body.sbom ? ', SBOM' : ''}${body.signature ? `, signature ${body.signature.verified ? 'verified' : 'not verified'}` : ''})`);
  if (byAddress) {
    const named = [typeof byAddress.sbom?.components === 'string' ? 'the SBOM\'s component list' : '', byAddress.vulnerabilities?.length ? `${byAddress.vulnerabilities.length} vulnerability findings` : ''].filter(Boolean);
    note(`${named.join(' and ')} ${named.length > 1 || !named[0]!.startsWith('the') ? 'were' : 'was'} already in Central: sent by address`);
  }
  return res;
}

/** `POST /api/v1/ingest/findings`: replaces the previous report of the same source and target. */
export async function pushFindings(client: CentralClient, source: string, target: string, findings: readonly Finding[]): Promise<{ stored: number; violations: number }> {
  return (await pushFindingReports(client, [{ source, target, findings: [...findings] }]))[0]!;
}

/** Several findings reports (one per target), one request each, then the client is closed. */
export async function pushFindingReports(client: CentralClient, reports: readonly FindingsReport[]): Promise<{ stored: number; violations: number }[]> {
  const results: { stored: number; violations: number }[] = [];
  await pushing(client, `${reports[0]?.source ?? ''} findings`, async () => {
    for (const r of reports) {
      const body: FindingsReport = { source: r.source, target: r.target, findings: r.findings.map(contractFinding) };
      const res = await client.post<{ stored: number; violations: number }>('/api/v1/ingest/findings', body);
      note(`pushed ${res.stored} ${r.source} findings about ${r.target} to ${client.server} (${res.violations} policy violations)`);
      results.push(res);
    }
  });
  return results;
}

/** `POST /api/v1/ingest/events` in batches; Central drops ids it has already stored. */
export async function pushEvents(client: CentralClient, source: EventBatch['source'], events: readonly IngestEvent[]): Promise<IngestResult> {
  const total: IngestResult = { stored: 0, duplicates: 0 };
  await pushing(client, `${events.length} ${source.kind} events`, async () => {
    for (let i = 0; i < events.length; i += REPLAY_BATCH) {
      const r = await client.post<IngestResult>('/api/v1/ingest/events', { source, events: events.slice(i, i + REPLAY_BATCH) } satisfies EventBatch);
      total.stored += r.stored;
      total.duplicates += r.duplicates;
    }
  });
  note(`pushed ${events.length} ${source.kind} events to ${client.server} (${total.stored} new, ${total.duplicates} already there)`);
  return total;
}

function note(text: string): void {
  process.stderr.write(`gatehouse: ${text}\n`);
}

// ---------------------------------------------------------------- events

/**
 * An alert as an event. Its id hashes what makes the alert itself (source, time, rule,
 * host, container, output) and its occurrence among identical alerts of the run, so the
 * same trace replayed again gives the same ids.
 */
export function alertEvent(kind: EventBatch['source']['kind'], alert: Alert, occurrence = 0): IngestEvent {
  const container = alert.output_fields['container.id'] ?? null;
  const key = JSON.stringify([kind, alert.time, alert.rule, alert.hostname, container, alert.output, occurrence]);
  return {
    id: `${kind}:${createHash('sha256').update(key).digest('hex').slice(0, 40)}`,
    type: 'alert',
    time: rfc3339(alert.time) ?? new Date().toISOString(),
    finding: contractFinding(alertToFinding(alert)),
  };
}

/** Collects `runtime replay`'s alerts as events with ids stable across runs of the same trace. */
export class ReplayAlertCollector implements AlertSink {
  readonly failed = 0;
  readonly events: IngestEvent[] = [];
  private readonly seen = new Map<string, number>();
  write(alert: Alert): void {
    const first = alertEvent('runtime-replay', alert);
    const n = this.seen.get(first.id) ?? 0;
    this.seen.set(first.id, n + 1);
    this.events.push(n === 0 ? first : alertEvent('runtime-replay', alert, n));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface ShipperHandle {
  shipper: EventShipper;
  spool: Spool<IngestEvent>;
  /** Sends what it can within the deadline, then closes the spool and the client; the rest waits on disk. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The spooled, batched, at-least-once shipper of a long-running command. Loss (a full
 * spool) and push failures are reported through `log`, never with the token.
 */
export function eventShipperFor(
  client: Pick<CentralClient, 'post' | 'close'>,
  source: EventBatch['source'],
  spoolDir: string,
  opts: { maxBytes?: number; log?: (level: 'warn' | 'error', message: string) => void; flushIntervalMs?: number } = {},
): ShipperHandle {
  const spool = openSpool<IngestEvent>(spoolDir, { maxBytes: opts.maxBytes ?? DEFAULT_SPOOL_BYTES });
  const log = opts.log ?? ((level, m) => note(`${level}: ${m}`));
  let lastError: string | undefined;
  const shipper = new EventShipper({
    client,
    spool,
    source,
    flushIntervalMs: opts.flushIntervalMs,
    onLoss: (dropped) => log('error', `Central unreachable and the spool ${spoolDir} is full: ${dropped} events lost`),
    // One line per new kind of failure: a Central that is down for an hour is not 1000 lines.
    onError: (m) => {
      if (m !== lastError) log('warn', `push to Central: ${m} (events wait in ${spoolDir})`);
      lastError = m;
    },
  });
  return {
    shipper,
    spool,
    close: async (timeoutMs = 5000) => {
      try {
        await shipper.close(timeoutMs);
      } finally {
        const left = spool.stats().pendingEvents;
        spool.close();
        await client.close();
        if (left) log('warn', `${left} events not yet in Central wait in ${spoolDir} for the next start`);
      }
    },
  };
}

/** The sensor's alerts into the shipper; ids from this run's id and a sequence number. */
export class ShippedAlertSink implements AlertSink {
  readonly failed = 0;
  private readonly run = randomUUID();
  private seq = 0;
  constructor(private readonly shipper: EventShipper, private readonly kind: EventBatch['source']['kind'] = 'sensor') {}
  write(alert: Alert): void {
    const event = alertEvent(this.kind, alert);
    this.shipper.submit({ ...event, id: `${this.kind}:${this.run}:${this.seq++}` });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The engine-proxy's decisions into the shipper, beside its own audit log. */
export class ShippedDecisionSink implements AuditSink {
  private readonly run = randomUUID();
  private seq = 0;
  constructor(private readonly shipper: EventShipper, private readonly next?: AuditSink) {}
  write(rec: AuditRecord): void {
    this.next?.write(rec);
    this.shipper.submit(decisionEvent(rec, `engine-proxy:${this.run}:${this.seq++}`));
  }
  async close(): Promise<void> {
    await this.next?.close();
  }
}

export function decisionEvent(rec: AuditRecord, id: string): IngestEvent {
  const finding = rec.findings?.[0];
  const data: Record<string, unknown> = {
    decision: rec.decision, action: rec.action, method: rec.method, path: rec.path, caller: rec.caller, policy: rec.policy, rules: rec.rules, message: rec.message,
    ...(rec.rules[0] ? { rule: rec.rules[0] } : {}),
    ...(rec.container ? { container: rec.container } : {}),
    ...(rec.image ? { image: rec.image } : {}),
    ...(rec.status !== undefined ? { status: rec.status } : {}),
    ...(rec.findings && rec.findings.length > 1 ? { findings: rec.findings.map(contractFinding) } : {}),
  };
  return { id, type: 'decision', time: rfc3339(rec.time) ?? new Date().toISOString(), ...(finding ? { finding: contractFinding(finding) } : {}), data };
}

/**
 * The host name events are reported under: `--node-name`, else $NODE_NAME (what a
 * DaemonSet sets from the downward API's spec.nodeName), else the machine's host name.
 */
export function reportingHost(nodeName?: string, env: NodeJS.ProcessEnv = process.env): string {
  const name = nodeName ?? (env.NODE_NAME || undefined);
  if (name === undefined) return hostname();
  // a node name is a DNS subdomain (RFC 1123), as Kubernetes requires of it
  if (name.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(name)) {
    throw new UserError(`${nodeName !== undefined ? '--node-name' : 'NODE_NAME'} must be a host name (letters, digits, '-' and '.', at most 253), got '${name}'`, 'usage');
  }
  return name;
}
