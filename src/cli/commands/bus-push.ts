/**
 * `--nats` for the commands that push events to Central besides the sensor: `runtime replay`
 * (alerts), `engine-proxy` and `admission serve` (decisions, break-glass alerts). They publish
 * to the JetStream event bus exactly what they post to Central with `--server` — the same
 * source and events, through the sensor's BusPublisher (same stream, subjects and message
 * ids) — and Central's bus consumer stores them. The flags, their texts and their errors are
 * the sensor's and the server's.
 *   long-running (engine-proxy, admission): BusPublisher under the same disk spool and
 *     EventShipper as `--server`, so what they answered while NATS was down waits on disk;
 *   one-shot (runtime replay): published after the report; exit 0 only once JetStream
 *     acknowledged every event, else one line and exit 2 (the same trace gives the same ids,
 *     so running it again stores nothing twice).
 */
import { connect } from '@nats-io/transport-node';
import type { Command } from 'commander';
import { busAccess, prepareBusAccess } from '../../central/bus/access.js';
import { BusPublisher } from '../../central/client/bus-publisher.js';
import { parseNatsUrl, redactNatsUrl } from '../../central/client/bus-stream.js';
import type { EventBatch, IngestEvent, IngestResult } from '../../central/client/ingest-types.js';
import { INGEST_EVENTS_PATH } from '../../central/client/shipper.js';
import { UserError, describeError } from '../../util/errors.js';
import type { CentralCliOptions } from '../central-options.js';

export interface NatsCliOptions {
  nats?: string;
  natsCreds?: string;
  natsTlsCa?: string;
}

/** Events per publish of `runtime replay` (as its HTTP batches). */
const REPLAY_BATCH = 1000;

/**
 * `--nats`, `--nats-creds`, `--nats-tls-ca`, worded as on `gatehouse sensor`; `what` says what
 * goes on the bus, `subject` what names its subject (bus-stream.ts subjectFor: cluster, else host).
 */
export function addNatsOptions(cmd: Command, what: string, subject: string, spooled = true): Command {
  return cmd
    .option('--nats <url>', `publish ${what} to the NATS JetStream event bus at nats://HOST:PORT (subject gatehouse.events.${subject}) instead of pushing to --server${spooled ? ', through the same disk spool (see --spool-dir)' : ''}`)
    .option('--nats-creds <file>', 'with --nats: NATS credentials — a .creds file, an nkey user seed (SU…) or one line of user:password')
    .option('--nats-tls-ca <file>', 'with --nats: the CA (PEM) that signed the NATS server certificate (TLS to the bus)');
}

/**
 * The publisher for `--nats` (undefined without it), after the sensor's checks: not together
 * with --server, the URL and the credential files read, a refused credential a one-line error.
 * `who` names the command in the error ("the engine proxy sends its decisions").
 */
export async function busPublisherFrom(o: NatsCliOptions & CentralCliOptions, who: string, connectionName: string): Promise<BusPublisher | undefined> {
  if (o.nats && o.server) throw new UserError(`${who} either to Central (--server) or to the event bus (--nats): give one`, 'usage');
  await prepareBusAccess(o);
  return o.nats ? new BusPublisher({ url: o.nats, name: connectionName }) : undefined;
}

/** One connection attempt without retries: a bus that is down is a clear line now rather than a timeout later. */
async function reachable(url: string): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: parseNatsUrl(url), name: 'gatehouse-reachability', reconnect: false, maxReconnectAttempts: 0, timeout: 10_000, ...accessOptions() });
    await nc.close();
    return undefined;
  } catch (e) {
    return describeError(e).split('\n')[0];
  }
}

function accessOptions(): Record<string, unknown> {
  const a = busAccess();
  return { ...(a.authenticator ? { authenticator: a.authenticator } : {}), ...(a.tls ? { tls: a.tls } : {}) };
}

/**
 * `runtime replay --nats`: every event published and acknowledged by JetStream (its message
 * id the event id), then the publisher closed. A failure is one line, exit 2.
 */
export async function publishEvents(publisher: BusPublisher, url: string, source: EventBatch['source'], events: readonly IngestEvent[]): Promise<IngestResult> {
  const total: IngestResult = { stored: 0, duplicates: 0 };
  const where = `NATS ${redactNatsUrl(url)}`;
  const failed = (why: string) => new UserError(`the report was written, but publishing ${events.length} ${source.kind} events to ${where} failed: ${why} (nothing is lost: the same trace gives the same ids, run it again)`, 'central');
  try {
    if (events.length) {
      const down = await reachable(url);
      if (down) throw failed(`cannot reach it (${down})`);
    }
    for (let i = 0; i < events.length; i += REPLAY_BATCH) {
      try {
        const r = await publisher.post<IngestResult>(INGEST_EVENTS_PATH, { source, events: events.slice(i, i + REPLAY_BATCH) } satisfies EventBatch);
        total.stored += r.stored;
        total.duplicates += r.duplicates;
      } catch (e) {
        throw failed(describeError(e).replace(/^NATS \S+: /, ''));
      }
    }
  } finally {
    await publisher.close();
  }
  process.stderr.write(`gatehouse: published ${events.length} ${source.kind} events to ${where} (${total.stored} new on the bus, ${total.duplicates} already there); Central stores them from the bus\n`);
  return total;
}

/**
 * Awaits a shipper's close while holding the event loop open. EventShipper's last retry
 * waits on an unref'd timer that can outlive its own close deadline by a moment; with
 * nothing else pending Node then ends the process mid-close with exit code 13 (an
 * unsettled top-level await). Seen when a push was refused just before SIGTERM.
 */
export async function keepingAlive<T>(p: Promise<T> | undefined): Promise<T | undefined> {
  const hold = setInterval(() => undefined, 1000);
  try {
    return await p;
  } finally {
    clearInterval(hold);
  }
}
