/** `gatehouse server`: runs Central (src/central/start.ts) until SIGINT or SIGTERM. */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { discoverLocalSources, type LocalSources } from '../../central/discover.js';
import { adoptLocalSources } from '../../central/live/local-sources.js';
import { startCentral, type RunningCentral } from '../../central/start.js';
import { DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT } from '../../central/tls.js';
import { parseBusBytes, parseBusDuration } from '../../central/client/bus-stream.js';
import { prepareBusAccess } from '../../central/bus/access.js';
import type { CentralResponseOptions } from '../../central/respond/response-service.js';
import { UserError } from '../../util/errors.js';

interface ServerCliOptions {
  listen: string;
  dataDir?: string;
  database?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
  /** commander: --no-local-sources sets it false. */
  localSources?: boolean;
  logLevel: string;
  nats?: string;
  natsMaxAge?: string;
  natsMaxBytes?: string;
  natsCreds?: string;
  natsTlsCa?: string;
  respond?: boolean;
  respondDryRun?: boolean;
  respondCooldown: string;
  killSwitch?: string;
  auditLog?: string;
  auditCluster?: string;
}

/** --respond's options, checked before Central starts. */
function responseOptions(o: ServerCliOptions): CentralResponseOptions {
  if (!/^\d+(\.\d+)?$/.test(o.respondCooldown)) throw new UserError(`--respond-cooldown must be a number of seconds, got '${o.respondCooldown}'`, 'usage');
  return {
    cooldownMs: Number(o.respondCooldown) * 1000,
    ...(o.respondDryRun ? { dryRun: true } : {}),
    ...(o.killSwitch ? { killSwitchFile: o.killSwitch } : {}),
  };
}

export function registerServerCommands(program: Command): void {
  program
    .command('server')
    .description('run Gatehouse Central: the API, the store and the live inventory (HTTPS; an admin token is printed at first start)')
    .option('--listen <addr>', 'address to serve on: HOST:PORT, [IPV6]:PORT or :PORT (0.0.0.0:PORT for every interface)', `${DEFAULT_LISTEN_HOST}:${DEFAULT_LISTEN_PORT}`)
    .option('--data-dir <dir>', 'where the embedded store and the TLS material live (default: $XDG_DATA_HOME/gatehouse or ~/.local/share/gatehouse)')
    .option('--database <url>', 'postgres://USER:PASSWORD@HOST/DB to use PostgreSQL instead of the embedded SQLite store')
    .option('--tls-cert <file>', 'your server certificate (PEM, leaf first) instead of the local CA')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--insecure-http', 'serve plain HTTP (loopback addresses only)')
    .option('--nats <url>', "nats://HOST:PORT: also take sensors' events from the NATS JetStream bus (durable consumer shared by every Central on this store)")
    .option('--respond', "carry out the cluster actions Central's runtime policies ask for on sensors' alerts (isolate, label, scale-to-zero, kill/stop: delete the pod); off by default")
    .option('--respond-dry-run', 'with --respond: decide and record every action, change nothing')
    .option('--respond-cooldown <seconds>', 'with --respond: one action per target and action in this period', '300')
    .option('--kill-switch <file>', 'with --respond: no action runs while this file exists')
    .option('--nats-max-age <duration>', 'with --nats: how long the bus keeps events (stream limit; 90s, 30m, 12h, 7d)', '7d')
    .option('--nats-max-bytes <size>', 'with --nats: how many bytes of events the bus keeps before dropping the oldest (stream limit; 512MiB, 1GiB, 20GB)', '1GiB')
    .option('--nats-creds <file>', 'with --nats: NATS credentials — a .creds file, an nkey user seed (SU…) or one line of user:password')
    .option('--nats-tls-ca <file>', 'with --nats: the CA (PEM) that signed the NATS server certificate (TLS to the bus)')
    .option('--audit-log <file>', "tail the kube-apiserver's audit log (its --audit-log-path: JSON lines) into incidents, as its audit webhook would send them; rotation and truncation are followed")
    .option('--audit-cluster <name>', 'with --audit-log: the cluster those audit events belong to (default: default)')
    .option('--no-local-sources', 'with no cluster or host configured, do not watch the local engine socket and kubeconfig')
    .addOption(new Option('--log-level <level>', 'request and job log level (JSON lines on stdout)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (o: ServerCliOptions) => {
      if (!o.respond && (o.respondDryRun || o.killSwitch)) throw new UserError('--respond-dry-run and --kill-switch go with --respond', 'usage');
      if (o.auditCluster !== undefined && !o.auditLog) throw new UserError('--audit-cluster names the cluster of --audit-log FILE: give --audit-log too', 'usage');
      if (o.auditCluster !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i.test(o.auditCluster)) throw new UserError(`--audit-cluster must be a cluster name (letters, digits, '-' and '.'), got '${o.auditCluster}'`, 'usage');
      await prepareBusAccess(o);
      const central = await startCentral({
        listen: o.listen,
        dataDir: o.dataDir,
        database: o.database,
        tlsCert: o.tlsCert,
        tlsKey: o.tlsKey,
        insecureHttp: o.insecureHttp,
        adminToken: process.env.GATEHOUSE_ADMIN_TOKEN || undefined,
        logger: { level: o.logLevel },
        ...(o.nats ? { nats: { url: o.nats, limits: { maxAgeMs: parseBusDuration(o.natsMaxAge ?? '7d', '--nats-max-age'), maxBytes: parseBusBytes(o.natsMaxBytes ?? '1GiB', '--nats-max-bytes') } } } : {}),
        ...(o.respond ? { respond: responseOptions(o) } : {}),
        ...(o.auditLog ? { auditLog: { file: resolve(o.auditLog), ...(o.auditCluster ? { cluster: o.auditCluster } : {}) } } : {}),
      });
      const local = discoverLocalSources();
      const { adopted, notes } = o.localSources === false ? { adopted: [], notes: [] } : await adoptLocalSources(central.context, local);
      process.stderr.write(banner(central, local));
      for (const a of adopted) process.stderr.write(`  watching ${a.kind} "${a.name}": ${a.from}\n`);
      for (const n of notes) process.stderr.write(`  note: ${n}\n`);
      if (!adopted.length) process.stderr.write('  sources: gatehouse cluster add / host add (or GET /api/v1/clusters, /hosts) show and change what Central watches\n');
      await new Promise<void>((resolve) => {
        // once: a second signal gets Node's default handling, which ends a stuck shutdown.
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stderr.write('Central: stopping\n');
      await central.close();
    });
}

/** What an operator needs at start, for people (stderr); the admin token appears only when just made. */
function banner(c: RunningCentral, sources: LocalSources): string {
  const rows: Array<[string, string]> = [['console', `${c.url}/`], ['API', `${c.url}/api/v1 (OpenAPI: ${c.url}/api/v1/openapi.json)`]];
  if (c.tls?.source === 'local') {
    rows.push(['TLS', `local CA ${c.tls.caFile}${c.tls.caCreated ? ' (made now)' : ''}`]);
    rows.push(['CA fingerprint', `SHA256 ${c.tls.fingerprint}`]);
  } else if (c.tls?.source === 'user') {
    rows.push(['TLS', `your certificate, SHA256 ${c.tls.fingerprint}`]);
  } else {
    rows.push(['TLS', 'none: plain HTTP on loopback (--insecure-http)']);
  }
  rows.push(['store', c.storeLocation]);
  if (c.respond) rows.push(['response', `on${c.respond.dryRun ? ' (dry run)' : ''}: cluster actions of runtime policies, cooldown ${Math.round((c.respond.cooldownMs ?? 300_000) / 1000)} s${c.respond.killSwitchFile ? `, kill switch ${c.respond.killSwitchFile}` : ''}`]);
  if (c.auditLog) rows.push(['audit log', `${c.auditLog.file} (cluster ${c.auditLog.cluster ?? 'default'})`]);
  if (c.nats) rows.push(['event bus', `${c.nats} (JetStream stream GATEHOUSE_EVENTS)`]);
  if (c.adminToken) rows.push(['admin token', `${c.adminToken}  (shown only this once: keep it now)`]);
  else if (c.adminTokenAdopted) rows.push(['admin token', 'GATEHOUSE_ADMIN_TOKEN (its hash is stored)']);
  for (const socket of sources.engineSockets) rows.push(['container engine', socket]);
  if (sources.kubeconfig) rows.push(['kubeconfig', `${sources.kubeconfig.file} (context ${sources.kubeconfig.context})`]);
  if (!sources.engineSockets.length && !sources.kubeconfig) rows.push(['local sources', 'no container engine socket or kubeconfig found']);
  const ca = c.tls?.caFile ? ` GATEHOUSE_CA=${c.tls.caFile}` : '';
  rows.push(['clients', `GATEHOUSE_SERVER=${c.url}${ca} GATEHOUSE_TOKEN=…`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = [
    `Gatehouse Central is listening on ${c.url}`,
    ...rows.map(([k, v]) => `  ${`${k}:`.padEnd(width)}${v}`),
    ...sources.skipped.map((s) => `  note: ${s}`),
    ...c.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}
