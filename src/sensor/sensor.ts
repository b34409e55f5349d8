/**
 * The eBPF sensor: bpftrace runs the probe, records are assembled, attributed to processes
 * and containers, and come out as RuntimeEvents keyed by Falco field names. The reader
 * never waits for the consumer: records go through a bounded queue, and anything lost on
 * the way (kernel perf buffer, full queue, records missing their parts) is counted and
 * reported through takeDropReport().
 */
import type { RuntimeEvent } from '../runtime/event.js';
import { UserError } from '../util/errors.js';
import { startBpftrace, type BpftraceOptions, type BpftraceRun } from './bpftrace.js';
import { ContainerResolver, engineSocket, type ContainerInfo } from './containers.js';
import { EventBuilder } from './event-builder.js';
import { ProcessTable, type ProcInfo } from './process-table.js';
import { BoundedQueue } from './queue.js';
import { ProbeOutputReader } from './output-reader.js';
import { RecordAssembler, type RawHead, type RawRecord } from './records.js';
import { onlineCpus, ReorderBuffer } from './reorder.js';

/**
 * The longest a record waits to be put in order across CPUs: normally the watermark lets
 * it go within one heartbeat period (~10 ms); this bounds the wait for a CPU that shows
 * nothing (reorder.ts).
 */
const REORDER_WINDOW_NS = 50_000_000n;
/** Longest wait between bpftrace writing output and the sensor parsing it (batches wake-ups). */
const DRAIN_MS = 8;
/** Events per batch handed to the consumer: small enough that rules see the first soon. */
const BATCH_MAX = 128;

export interface SensorOptions extends BpftraceOptions {
  /** Records buffered between the probe and the pipeline (default 65536). */
  queueCapacity?: number;
  /** Docker-compatible API socket (default $DOCKER_HOST, else podman's socket). */
  engineSocket?: string;
  procRoot?: string;
  /** How long to wait for bpftrace to attach every probe (default 5 minutes). */
  readyTimeoutMs?: number;
  /**
   * Learn every container of the engine (running ones at start, then from its event stream):
   * the container IP map, and names of containers that exit before their first lookup (flows).
   */
  watchContainers?: boolean;
}

export interface SensorStats {
  records: number;
  events: number;
  /** Records the kernel could not hand to bpftrace (perf buffer full). */
  lostInKernel: number;
  /** Records dropped because the pipeline queue was full. */
  droppedInQueue: number;
  /** Events whose parts never arrived. */
  incomplete: number;
  malformed: number;
  containerLookupErrors: number;
  processes: number;
}

export interface DropReport {
  lostInKernel: number;
  droppedInQueue: number;
  incomplete: number;
  total: number;
}

export class Sensor {
  private readonly table: ProcessTable;
  private readonly containers: ContainerResolver;
  private readonly builder: EventBuilder;
  private readonly assembler = new RecordAssembler();
  private readonly queue: BoundedQueue<RawRecord>;
  private readonly selfPids: Set<number>;
  private run: BpftraceRun | undefined;
  private stopped = false;
  private readerDone = false;
  private counters = { records: 0, events: 0, lost: 0 };
  private reported = { lost: 0, dropped: 0, incomplete: 0 };
  private incompleteAtReady = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  /** When (performance.now() ms) the armed tick fires. */
  private tickAt = 0;
  private pendingChunks: string[] = [];
  private reader: ProbeOutputReader | undefined;
  /** Records parsed from one batch of output (reused). */
  private readonly batch: RawRecord[] = [];
  private onReady: (() => void) | undefined;
  private readonly reorder: ReorderBuffer;

  private constructor(private readonly opts: SensorOptions) {
    const procRoot = opts.procRoot ?? '/proc';
    this.table = new ProcessTable(procRoot);
    this.containers = new ContainerResolver(opts.engineSocket ?? engineSocket(), procRoot);
    const clockOffset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    this.builder = new EventBuilder({ procRoot, table: this.table, host: this.containers.host, clockOffset });
    this.queue = new BoundedQueue(opts.queueCapacity ?? 65536);
    this.reorder = new ReorderBuffer(REORDER_WINDOW_NS, (r) => this.queue.push(r), onlineCpus());
    this.selfPids = new Set([process.pid]);
  }

  /** Starts bpftrace and resolves once every probe is attached. */
  static async start(opts: SensorOptions = {}): Promise<Sensor> {
    const s = new Sensor(opts);
    await s.begin();
    return s;
  }

  private async begin(): Promise<void> {
    this.table.seed();
    if (this.opts.watchContainers) await this.containers.watch();
    const run = startBpftrace(this.opts);
    this.run = run;
    this.reader = new ProbeOutputReader(this.assembler, run.recordEnd);
    if (run.child.pid) {
      this.selfPids.add(run.child.pid);
      this.assembler.ignoreTids.add(run.child.pid);
    }
    const ready = new Promise<void>((resolve) => (this.onReady = resolve));
    void this.read(run);
    const timeoutMs = this.opts.readyTimeoutMs ?? 300_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      run.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      run.child.kill('SIGKILL');
      // The engine watch (--flows) holds a connection open: without this the process never exits.
      await this.containers.close();
      const why = run.stderrTail() || (outcome === 'timeout' ? `no ready signal within ${timeoutMs} ms` : 'exited');
      throw new UserError(`bpftrace could not start the Gatehouse probe: ${why}`, 'bpftrace-failed');
    }
    this.sweepTimer = setInterval(() => this.table.sweep(), 1000);
    this.sweepTimer.unref();
  }

  /**
   * One timer drives the reader: it parses what bpftrace wrote since the last tick (at most
   * DRAIN_MS ago) and releases the records the watermark lets go, then sleeps until there
   * is output again or a held record's window ends. Parsing in batches rather than per write
   * keeps the per-event cost low when events are sparse (each wake-up of a cold pipeline
   * costs far more than the record it handles).
   */
  private armTick(): void {
    if (this.readerDone) return;
    let waitMs: number;
    if (this.pendingChunks.length) waitMs = DRAIN_MS;
    else {
      const next = this.reorder.nextReleaseNs();
      if (next === undefined) return;
      waitMs = Math.max(1, Math.ceil(Number(next - process.hrtime.bigint()) / 1e6));
    }
    const at = performance.now() + waitMs;
    if (this.tickTimer) {
      // output that arrives while a held record's window runs is parsed within DRAIN_MS
      if (this.tickAt <= at) return;
      clearTimeout(this.tickTimer);
    }
    this.tickAt = at;
    this.tickTimer = setTimeout(this.tick, waitMs);
  }

  private readonly tick = (): void => {
    this.tickTimer = undefined;
    this.drain();
    this.reorder.flush(process.hrtime.bigint());
    this.armTick();
  };

  /** Parses the complete records bpftrace has written so far. */
  private drain(): void {
    if (!this.pendingChunks.length) return;
    const text = this.pendingChunks.length === 1 ? this.pendingChunks[0]! : this.pendingChunks.join('');
    this.pendingChunks = [];
    this.reader!.feed(text, this.batch);
    this.handle(this.batch);
  }

  private handle(records: RawRecord[]): void {
    for (const rec of records) {
      switch (rec.t) {
        case 'ready':
          // records cut in half while probes were still attaching are expected, not drops
          this.assembler.resetPending();
          this.incompleteAtReady = this.assembler.incomplete;
          this.onReady?.();
          continue;
        case 'lost':
          this.counters.lost += rec.count;
          continue;
        case 'heartbeat':
          this.reorder.advance(rec.cpu, Number(rec.ts));
          continue;
        default:
          this.counters.records++;
          // the reorder buffer is bounded by the same capacity: beyond it, records are dropped
          if (this.reorder.size >= this.queue.capacity) this.queue.dropped++;
          else this.reorder.push(rec);
      }
    }
    records.length = 0;
  }

  private read(run: BpftraceRun): Promise<void> {
    return new Promise((resolve) => {
      const out = run.child.stdout!;
      out.setEncoding('utf8');
      out.on('data', (chunk: string) => {
        this.pendingChunks.push(chunk);
        this.armTick();
      });
      out.once('close', () => {
        clearTimeout(this.tickTimer);
        this.tickTimer = undefined;
        this.drain();
        this.reader!.end(this.batch);
        this.handle(this.batch);
        this.reorder.flush(process.hrtime.bigint(), true);
        this.readerDone = true;
        this.queue.wake();
        resolve();
      });
    });
  }

  /** The event stream; ends when the sensor stops. */
  async *events(): AsyncGenerator<RuntimeEvent> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * The event stream in batches: the events of the records queued so far (at most
   * BATCH_MAX), built without a promise per event unless a container must be looked up.
   * One await per batch instead of two per event (for await + async build) is most of the
   * loop's cost at thousands of events per second.
   */
  async *batches(): AsyncGenerator<RuntimeEvent[]> {
    while (true) {
      if (this.queue.length === 0) {
        if (this.readerDone) return;
        await this.queue.wait();
        continue;
      }
      const out: RuntimeEvent[] = [];
      for (let rec = this.queue.shift(); rec; rec = out.length < BATCH_MAX ? this.queue.shift() : undefined) {
        const made = this.process(rec);
        const ev = made instanceof Promise ? await made : made;
        if (ev) {
          this.counters.events++;
          out.push(ev);
        }
      }
      if (out.length) yield out;
    }
  }

  private process(rec: RawRecord): RuntimeEvent | undefined | Promise<RuntimeEvent | undefined> {
    switch (rec.t) {
      case 'fork':
        this.table.fork(rec.ppid, rec.pid, rec.ts, rec.comm);
        return undefined;
      case 'exit':
        this.table.exit(rec.pid);
        return undefined;
      case 'event': {
        const { head, strings, bytes } = rec;
        if (this.selfPids.has(head.pid)) return undefined;
        let flags: string[] = [];
        let proc;
        if (head.kind === 'execve') {
          ({ proc, flags } = this.builder.applyExec(head, strings, bytes));
        } else {
          this.fillHead = head;
          proc = this.table.touch(head.pid, this.fillFromHead);
          proc.ppid = head.ppid;
          proc.name = head.comm;
          proc.mntns = head.mntns;
        }
        const specific = head.kind === 'execve' ? undefined : this.builder.specific(head, strings, bytes, proc);
        if (head.kind !== 'execve' && !specific) return undefined;
        const known = this.containers.cached(head.cgroup);
        if (known !== undefined) return this.finish(rec, proc, flags, specific, known);
        const lookup =
          head.kind === 'execve' ? this.containers.learn(head.cgroup, strings[1] ?? '', head.pid) : this.containers.resolve(head.cgroup, head.pid);
        return lookup.then((container) => this.finish(rec, proc, flags, specific, container));
      }
      default:
        return undefined;
    }
  }

  /** A process the table does not know and /proc no longer has: what its record says (one function, not a closure per event). */
  private fillHead: RawHead | undefined;
  private readonly fillFromHead = (): ProcInfo => {
    const head = this.fillHead!;
    return {
      pid: head.pid, ppid: head.ppid, name: head.comm, exe: head.comm, exepath: '', args: [], cwd: '',
      tty: head.tty, sid: head.sid, vpgid: head.vpgid, loginuid: head.loginuid, mntns: head.mntns,
    };
  };

  private finish(
    rec: Extract<RawRecord, { t: 'event' }>,
    proc: ProcInfo,
    flags: string[],
    specific: ReturnType<EventBuilder['specific']>,
    container: ContainerInfo | null,
  ): RuntimeEvent {
    const { head, strings } = rec;
    // one literal per kind (event-builder.ts): no specific part assigned onto a common one
    return head.kind === 'execve' ? this.builder.execEvent(head, proc, container, flags, strings) : this.builder.event(head, proc, container, specific!);
  }

  /** Containers known so far, by short id and by address (see watchContainers). */
  get containerLookup(): Pick<ContainerResolver, 'byShort' | 'byAddress'> {
    return this.containers;
  }

  stats(): SensorStats {
    return {
      records: this.counters.records,
      events: this.counters.events,
      lostInKernel: this.counters.lost,
      droppedInQueue: this.queue.dropped,
      incomplete: this.assembler.incomplete - this.incompleteAtReady,
      malformed: this.assembler.malformed,
      containerLookupErrors: this.containers.lookupErrors,
      processes: this.table.size,
    };
  }

  /** Drops since the last call, or undefined when nothing new was lost. */
  takeDropReport(): DropReport | undefined {
    const s = this.stats();
    const r: DropReport = {
      lostInKernel: s.lostInKernel - this.reported.lost,
      droppedInQueue: s.droppedInQueue - this.reported.dropped,
      incomplete: s.incomplete - this.reported.incomplete,
      total: 0,
    };
    r.total = r.lostInKernel + r.droppedInQueue + r.incomplete;
    if (r.total === 0) return undefined;
    this.reported = { lost: s.lostInKernel, dropped: s.droppedInQueue, incomplete: s.incomplete };
    return r;
  }

  /** Stops bpftrace; the event stream ends after the queued records. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweepTimer);
    const run = this.run;
    // the reader flushes what is held once bpftrace's output ends
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGINT');
      const t = setTimeout(() => run.child.kill('SIGKILL'), 5000);
      await run.exited;
      clearTimeout(t);
    }
    this.queue.wake();
    await this.containers.close();
  }
}
