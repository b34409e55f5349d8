/**
 * Starts Central: the store (migrations run), TLS (the local CA or the user's certificate;
 * plain HTTP only on loopback), the admin token at first start, the HTTP server, then the
 * background jobs. `gatehouse server` is a thin shell over this; tests start it the same way.
 */
import { hostname } from 'node:os';
import { isIPv6 } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { looksLikeToken } from './auth/token-secret.js';
import { busConsumerJob, type BusConsumerOptions } from './bus/consumer.js';
import { busNoticesJob } from './bus/notices.js';
import { parseNatsUrl, redactNatsUrl } from './client/bus-stream.js';
import { createCentralContext, type CentralContext } from './context.js';
import { defaultDataDir } from './data-dir.js';
import { CENTRAL_JOBS, type CentralJob } from './jobs.js';
import { centralResponseJob, type CentralResponseOptions } from './respond/response-service.js';
import { auditFileJob, type AuditFileOptions } from './incidents/audit-file.js';
import { incidentFlowsJob } from './incidents/flow-feed.js';
import { connectionPoliciesJob } from './network/connection-policies.js';
import { buildCentral, type BuildCentralOptions } from './server.js';
import { openStore, type Store } from './store/open.js';
import { countAdminTokens, createToken, findTokenByValue } from './store/tokens.js';
import { ensureLocalTls, loadUserTls, resolveListen } from './tls.js';
import { UserError, describeError } from '../util/errors.js';

export interface StartCentralOptions {
  /** HOST:PORT (default 127.0.0.1:8443); port 0 picks a free port. */
  listen?: string;
  /** Store and TLS material (default: `$XDG_DATA_HOME/gatehouse`). */
  dataDir?: string;
  /** `postgres://…` instead of the embedded SQLite store. */
  database?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Plain HTTP; refused unless the listen address is loopback. */
  insecureHttp?: boolean;
  /** GATEHOUSE_ADMIN_TOKEN: adopted as the admin token at first start (only its hash is stored). */
  adminToken?: string;
  logger?: BuildCentralOptions['logger'];
  /** Background jobs (default: CENTRAL_JOBS). */
  jobs?: CentralJob[];
  /** How long close() lets jobs wind down before closing the store anyway. */
  jobStopTimeoutMs?: number;
  /**
   * nats://HOST:PORT: consume sensors' events from the JetStream bus (src/central/bus) beside
   * the HTTP ingest; a string is the URL, an object sets the consumer's options too.
   */
  nats?: string | BusConsumerOptions;
  /** Carry out cluster response actions that Central's runtime policies ask for (src/central/respond); off by default. */
  respond?: CentralResponseOptions;
  /** Tail the kube-apiserver's audit log file (`--audit-log`) into the incident correlator. */
  auditLog?: AuditFileOptions;
}

export interface CentralTlsInfo {
  /** 'local': the CA Central made in DATA_DIR/tls; 'user': --tls-cert/--tls-key. */
  source: 'local' | 'user';
  /** SHA-256 of the local CA (local) or of the user's leaf certificate (user), colon hex. */
  fingerprint: string;
  /** The local CA certificate file, for clients (GATEHOUSE_CA). */
  caFile?: string;
  /** The local CA was made by this start. */
  caCreated?: boolean;
}

export interface RunningCentral {
  url: string;
  dataDir: string;
  /** Where the store is, without credentials. */
  storeLocation: string;
  /** The NATS servers events are consumed from (--nats), without credentials. */
  nats?: string;
  /** Cluster response is on (--respond); its options. */
  respond?: CentralResponseOptions;
  /** The audit log file tailed (--audit-log). */
  auditLog?: AuditFileOptions;
  /** Absent with --insecure-http. */
  tls?: CentralTlsInfo;
  /** The local CA's fingerprint (absent with the user's certificate or plain HTTP). */
  caFingerprint?: string;
  /** An admin token made by this start: its value exists nowhere else, print it once. */
  adminToken?: string;
  /** GATEHOUSE_ADMIN_TOKEN became the admin token at this start. */
  adminTokenAdopted: boolean;
  /** Things the operator should know (one line each). */
  warnings: string[];
  context: CentralContext;
  app: FastifyInstance;
  /** Stops the jobs and the server, then closes the store. Idempotent. */
  close(): Promise<void>;
}

export async function startCentral(options: StartCentralOptions = {}): Promise<RunningCentral> {
  // Every option is checked before anything is created on disk.
  const listen = resolveListen({ listen: options.listen, insecureHttp: options.insecureHttp });
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UserError('--tls-cert and --tls-key go together', 'usage');
  if (options.insecureHttp && options.tlsCert) throw new UserError('--insecure-http serves plain HTTP: give no --tls-cert/--tls-key with it', 'usage');
  if (options.adminToken !== undefined && !looksLikeToken(options.adminToken)) {
    throw new UserError('GATEHOUSE_ADMIN_TOKEN must be a random token of at least 32 characters of A-Z a-z 0-9 _ - . ~ + / = (e.g. `openssl rand -hex 32`)', 'usage');
  }
  const dataDir = options.dataDir ?? defaultDataDir();
  const nats = typeof options.nats === 'string' ? { url: options.nats } : options.nats;
  if (nats) parseNatsUrl(nats.url);

  let tls: CentralTlsInfo | undefined;
  let https: BuildCentralOptions['https'];
  if (listen.tls && options.tlsCert && options.tlsKey) {
    const user = await loadUserTls(options.tlsCert, options.tlsKey);
    https = { cert: user.cert, key: user.key };
    tls = { source: 'user', fingerprint: user.fingerprint };
  } else if (listen.tls) {
    const local = await ensureLocalTls(dataDir);
    https = { cert: local.cert, key: local.key };
    tls = { source: 'local', fingerprint: local.caFingerprint, caFile: local.caFile, caCreated: local.created };
  }

  const store = await openStore({ dataDir, database: options.database });
  let app: FastifyInstance | undefined;
  try {
    const warnings: string[] = [];
    const admin = await ensureAdminToken(store, options.adminToken, warnings);
    const ctx = await createCentralContext(store, undefined, { dataDir });
    app = await buildCentral(ctx, { logger: options.logger, https });
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (e) {
      throw new UserError(`cannot listen on ${hostPort(listen.host, listen.port)}: ${describeError(e)}`, 'listen');
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : listen.port;
    // sensors' flows reach incidents beside whatever jobs were asked for: correlation is not optional
    const jobs = startJobs(app, ctx, [...(options.jobs ?? CENTRAL_JOBS), incidentFlowsJob, connectionPoliciesJob, ...(nats ? [busConsumerJob(nats), busNoticesJob(nats.url)] : []), ...(options.respond ? [centralResponseJob(options.respond)] : []), ...(options.auditLog ? [auditFileJob(options.auditLog)] : [])]);
    const running = app;
    let closing: Promise<void> | undefined;
    return {
      url: `${listen.tls ? 'https' : 'http'}://${hostPort(urlHost(listen.host), port)}`,
      dataDir,
      storeLocation: store.location,
      ...(nats ? { nats: redactNatsUrl(nats.url) } : {}),
      ...(options.respond ? { respond: options.respond } : {}),
      ...(options.auditLog ? { auditLog: options.auditLog } : {}),
      tls,
      caFingerprint: tls?.source === 'local' ? tls.fingerprint : undefined,
      adminToken: admin.created,
      adminTokenAdopted: admin.adopted,
      warnings,
      context: ctx,
      app: running,
      close: () => (closing ??= (async () => {
        await Promise.all([jobs.stop(options.jobStopTimeoutMs ?? 10_000), running.close()]);
        await store.close();
      })()),
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
}

/**
 * At first start (no admin token that is not revoked) Central makes one, or adopts
 * GATEHOUSE_ADMIN_TOKEN. Later starts leave the tokens alone: an admin revokes and creates
 * them through the API.
 */
async function ensureAdminToken(store: Store, fromEnv: string | undefined, warnings: string[]): Promise<{ created?: string; adopted: boolean }> {
  if (fromEnv !== undefined) {
    const known = await findTokenByValue(store.db, fromEnv);
    if (known?.revoked_at) throw new UserError('GATEHOUSE_ADMIN_TOKEN was revoked: unset it, or set a new random value', 'usage');
    if (known && known.role !== 'admin') throw new UserError(`GATEHOUSE_ADMIN_TOKEN is a "${known.role}" token in this store, not an admin token`, 'usage');
    if (known) return { adopted: false };
    if ((await countAdminTokens(store.db)) > 0) {
      warnings.push('GATEHOUSE_ADMIN_TOKEN is ignored: this store already has an admin token (create others with `gatehouse token create --role admin`)');
      return { adopted: false };
    }
    await createToken(store.db, { name: 'admin', role: 'admin', value: fromEnv, createdBy: 'GATEHOUSE_ADMIN_TOKEN' });
    return { adopted: true };
  }
  if ((await countAdminTokens(store.db)) > 0) return { adopted: false };
  const { token } = await createToken(store.db, { name: 'admin', role: 'admin', createdBy: 'first start' });
  return { created: token, adopted: false };
}

/** Starts each job with a shared abort signal; stop() aborts them and waits (bounded) for them to end. */
function startJobs(app: FastifyInstance, ctx: CentralContext, jobs: readonly CentralJob[]): { stop(timeoutMs: number): Promise<void> } {
  const controller = new AbortController();
  const running = jobs.map((job, i) => {
    const name = job.name || `job ${i + 1}`;
    return Promise.resolve()
      .then(() => job(ctx, controller.signal, { log: app.log }))
      .catch((e: unknown) => {
        if (!controller.signal.aborted) app.log.error({ job: name, error: describeError(e) }, 'background job failed');
      });
  });
  return {
    async stop(timeoutMs: number) {
      controller.abort();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          app.log.warn({ timeoutMs }, 'background jobs did not stop in time; closing anyway');
          resolve();
        }, timeoutMs);
      });
      await Promise.race([Promise.allSettled(running), timeout]);
      clearTimeout(timer);
    },
  };
}

/** A wildcard address is not one to connect to: the URL names this machine instead (its certificate does). */
function urlHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? hostname().toLowerCase() : host;
}

function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}
