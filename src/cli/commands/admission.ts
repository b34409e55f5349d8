/**
 * `gatehouse admission serve`: the admission webhook (src/admission/server.ts). Other
 * `admission` subcommands (install) register on the group this returns.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { containerImagesOf } from '../../admission/image-trust-images.js';
import { ImageTrustGate } from '../../admission/image-trust.js';
import { AdmissionMetrics } from '../../admission/metrics.js';
import { loadAdmissionPolicies } from '../../admission/policies.js';
import { AdmissionServer, DEFAULT_BUDGET_MS, type AdmissionAuditRecord, type AdmissionAuditSink } from '../../admission/server.js';
import type { IngestEvent } from '../../central/client/ingest-types.js';
import type { EventShipper } from '../../central/client/shipper.js';
import { defaultDataDir } from '../../central/data-dir.js';
import { ensureLocalTls, resolveListen } from '../../central/tls.js';
import { subjects } from '../../subjects/index.js';
import { loadTrustPolicy } from '../../trust/policy.js';
import { registerShipperMetrics } from '../../util/metrics.js';
import { addMetricsOptions, metricsToken, type MetricsCliOptions } from '../metrics-options.js';
import { UserError, describeError } from '../../util/errors.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { registerAdmissionInstall } from './admission-install.js';
import { addSpoolOption, contractFinding, defaultSpoolDir, eventShipperFor } from '../central-push.js';
import { createLogger, logFunction, LOG_LEVELS } from '../../util/log.js';
import { addNatsOptions, busPublisherFrom, keepingAlive, type NatsCliOptions } from './bus-push.js';

interface ServeCliOptions {
  listen: string;
  policy: string[];
  trustPolicy?: string;
  tlsCert?: string;
  tlsKey?: string;
  dataDir?: string;
  dryRunOnly?: boolean;
  excludeNamespace: string[];
  excludeLabel: string[];
  failClosed?: boolean;
  budget: string;
  cluster?: string;
  spoolDir?: string;
  logLevel: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** `2s`, `1500ms`, `0.5s` or plain milliseconds. */
export function parseBudget(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
  if (!m || !Number.isFinite(ms) || ms < 10 || ms > 30_000) throw new UserError(`--budget ${JSON.stringify(text)}: expected a duration from 10ms to 30s, such as 2s or 500ms`, 'usage');
  return Math.round(ms);
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${describeError(e)}`, 'bad-option');
  }
}

/**
 * What Central gets of an answer: a break-glass use as an alert that needs review (with the
 * break-glass policy's finding and the ticket); denials, warnings, audit-mode would-denials
 * and budget cut-offs as decisions. Plain allows are not sent (one per API write).
 */
export function admissionEvent(rec: AdmissionAuditRecord, id: string): IngestEvent | undefined {
  const data: Record<string, unknown> = {
    decision: rec.decision, allowed: rec.allowed, endpoint: rec.endpoint, operation: rec.operation, resource: rec.resource, kind: rec.kind,
    namespace: rec.namespace, name: rec.name, user: rec.user, groups: rec.groups, dryRun: rec.dryRun, policies: rec.policies, uid: rec.uid,
    ...(rec.message ? { message: rec.message } : {}),
    ...(rec.warnings.length ? { warnings: rec.warnings } : {}),
    ...(rec.wouldDeny ? { wouldDeny: true } : {}),
    ...(rec.timedOut ? { timedOut: true, failClosed: rec.failClosed } : {}),
  };
  if (rec.breakGlass) {
    const bg = rec.breakGlass;
    return {
      id, type: 'alert', time: rec.time,
      finding: contractFinding({ ...bg.finding, data: { ...(bg.finding.data ?? {}), ticket: bg.ticket, annotation: bg.annotation, overridden: bg.overridden, needsReview: true, user: rec.user } }),
      data: { ...data, breakGlass: { ticket: bg.ticket, annotation: bg.annotation, overridden: bg.overridden }, needsReview: true },
    };
  }
  if (rec.decision === 'allow' && !rec.timedOut) return undefined;
  const finding = rec.findings.find((f) => rec.policies.includes(f.policy?.id ?? f.id) && rec.message?.includes(f.policy?.id ?? f.id)) ?? rec.findings[0];
  return { id, type: 'decision', time: rec.time, ...(finding ? { finding: contractFinding(finding) } : {}), data };
}

/**
 * How long decisions wait to be handed to the shipper together. The shipper appends what
 * one tick submits with one synchronous fsync; at hundreds of requests a second each answer
 * is its own tick, so handing events over one by one would fsync on the event loop for
 * every denial. Together, that is at most ten a second.
 */
const SPOOL_BATCH_MS = 100;

/** Answers into the shipper, ids from this run and a sequence number. */
class ShippedAdmissionSink implements AdmissionAuditSink {
  private readonly run = randomUUID();
  private seq = 0;
  private pending: IngestEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly shipper: EventShipper) {}
  write(rec: AdmissionAuditRecord): void {
    const event = admissionEvent(rec, `admission:${this.run}:${this.seq}`);
    if (!event) return;
    this.seq++;
    this.pending.push(event);
    this.timer ??= setTimeout(() => this.flush(), SPOOL_BATCH_MS).unref();
  }
  /** Hands what waits to the shipper (before the shipper closes). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const events = this.pending;
    this.pending = [];
    for (const event of events) this.shipper.submit(event);
  }
}

export function registerAdmissionCommands(program: Command): Command {
  const admission = program.command('admission').description('Kubernetes admission control: the validating and mutating webhook');
  const serve = admission
    .command('serve')
    .description('serve the AdmissionReview v1 webhook over HTTPS: POST /validate (policies, image trust) and POST /mutate (pins verified images to digests)')
    .option('--listen <addr>', 'HOST:PORT to listen on (0.0.0.0:8443 in a pod)', '127.0.0.1:8443')
    .option('--policy <pack>', 'policy pack: a file, a directory or a built-in pack name (repeatable; default: deploy, Pod Security Standards baseline denies and the rest warns, plus the admission pack)', collect, [])
    .option('--trust-policy <file>', 'trust policy (as `image verify --policy`): every container image must satisfy it; /mutate pins verified tags to digests')
    .option('--tls-cert <file>', 'serving certificate (PEM)')
    .option('--tls-key <file>', 'serving key (PEM)')
    .option('--data-dir <dir>', 'without --tls-cert: a local CA and serving certificate are kept in DIR/tls (default: <gatehouse data dir>/admission); caBundle is DIR/tls/ca.crt')
    .option('--dry-run-only', 'audit mode: never deny; what would be denied comes back as a warning')
    .option('--exclude-namespace <ns>', 'admit requests in this namespace (glob) without evaluation (repeatable)', collect, [])
    .option('--exclude-label <key[=value]>', 'admit objects with this label without evaluation (repeatable)', collect, [])
    .option('--fail-closed', 'deny when the budget runs out or an image cannot be verified in time (default: admit with a warning)')
    .option('--budget <duration>', 'every answer is sent within this time (below the webhook timeoutSeconds)', `${DEFAULT_BUDGET_MS / 1000}s`)
    .option('--cluster <name>', 'cluster name for policy scopes and Central')
    .addOption(new Option('--log-level <level>', 'level of the JSON log lines on stderr').choices(LOG_LEVELS).default('info'));
  addNatsOptions(addSpoolOption(addCentralOptions(addMetricsOptions(serve, { ownListener: true }))), 'denials, warnings and break-glass uses', '<cluster>').action(async (o: ServeCliOptions & CentralCliOptions & MetricsCliOptions & NatsCliOptions) => {
    const listen = resolveListen({ listen: o.listen });
    const budgetMs = parseBudget(o.budget);
    const metricsTokenValue = metricsToken(o);
    if (!!o.tlsCert !== !!o.tlsKey) throw new UserError('--tls-cert and --tls-key go together', 'usage');
    if (o.tlsCert && o.dataDir) throw new UserError('give either --tls-cert/--tls-key or --data-dir, not both', 'usage');
    const log = logFunction(createLogger({ component: 'admission', level: o.logLevel as (typeof LOG_LEVELS)[number] }));
    // Answers go to Central (--server) or to the event bus (--nats), through the same disk spool.
    const central = (await busPublisherFrom(o, 'the admission webhook sends its decisions', `gatehouse-admission ${o.cluster ?? ''}`.trim())) ?? centralClientFrom(o);
    // Everything is checked before anything listens: a bad pack exits 2 with file:line.
    const loaded = await loadAdmissionPolicies(o.policy, subjects());
    const trustPolicy = o.trustPolicy ? await loadTrustPolicy(o.trustPolicy) : undefined;
    let tls: { cert: string; key: string };
    let caFile: string | undefined;
    if (o.tlsCert && o.tlsKey) tls = { cert: readPem(o.tlsCert, 'TLS certificate'), key: readPem(o.tlsKey, 'TLS key') };
    else {
      const local = await ensureLocalTls(o.dataDir ?? join(defaultDataDir(), 'admission'));
      tls = { cert: local.cert, key: local.key };
      caFile = local.caFile;
    }
    const gate = trustPolicy ? new ImageTrustGate({ policy: trustPolicy }) : undefined;
    const shipping = central ? eventShipperFor(central, { kind: 'admission', ...(o.cluster ? { cluster: o.cluster } : {}) }, o.spoolDir ?? defaultSpoolDir('admission'), { log: (level, msg) => log(level, msg) }) : undefined;
    const sink = shipping ? new ShippedAdmissionSink(shipping.shipper) : undefined;
    // GET /metrics on the webhook's listener; with --server also the spool's lag.
    const metrics = new AdmissionMetrics();
    if (shipping) registerShipperMetrics(metrics.registry, () => shipping.shipper.stats());
    try {
      const server = new AdmissionServer({
        policies: loaded.policies, exceptions: loaded.exceptions, subjects: subjects(), tls,
        host: listen.host, port: listen.port, budgetMs, failClosed: o.failClosed, dryRunOnly: o.dryRunOnly,
        excludeNamespaces: o.excludeNamespace, excludeLabels: o.excludeLabel, cluster: o.cluster,
        imageTrust: gate ? { gate, imagesOf: containerImagesOf } : undefined,
        audit: sink,
        log,
        metrics,
        ...(metricsTokenValue ? { metricsToken: metricsTokenValue } : {}),
      });
      const url = await server.start();
      // SIGHUP re-reads the packs; a bad one keeps the policies in force.
      process.on('SIGHUP', () => {
        loadAdmissionPolicies(o.policy, subjects()).then(
          (l) => {
            server.setPolicies(l.policies, l.exceptions);
            log('info', 'policies reloaded', { policies: l.policies.length });
          },
          (e: unknown) => log('error', `policy reload: ${describeError(e)} (the previous policies stay in force)`),
        );
      });
      log('info', 'admission webhook listening', {
        url, policies: loaded.policies.length, sources: loaded.sources, budgetMs, failClosed: !!o.failClosed, dryRunOnly: !!o.dryRunOnly,
        ...(caFile ? { caFile } : {}), ...(gate ? { trustPolicy: o.trustPolicy } : {}), ...(central ? (o.nats ? { bus: true } : { central: true }) : {}),
      });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      await gate?.close();
    } finally {
      sink?.flush();
      await keepingAlive(shipping?.close());
    }
  });
  registerAdmissionInstall(admission);
  return admission;
}
