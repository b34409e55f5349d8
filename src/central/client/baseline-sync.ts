/**
 * The sensor's side of baselines kept by Central (docs/notes/baseline-central.md): what the
 * local detector learns is journalled (LearnJournal, fed by the detector's onLearn hook) and
 * pushed as deltas to `POST /api/v1/ingest/baselines` at every flush; the answer — the merged
 * baseline of every workload the sensor sees, with Central's lifecycle (locked, accepted
 * items, window) — is adopted in place into the detector's baselines, which the detector's
 * flush then writes to --baseline-dir (the local cache the sensor scores from while Central is
 * away).
 *
 * Delivery: one push at a time; a push that failed is retried as it was (same id, so Central
 * does not count it twice if it had applied it) before anything newer is cut, and what is
 * learned meanwhile accumulates in the journal. Memory is bounded by the distinct items of
 * the workloads (never by time or event rate). At close the unsent push and the journal are
 * saved next to the baselines and read back at the next start. Central refusing a push as
 * malformed (400, 413) drops it (a retry could not succeed) and says so.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeError } from '../../util/errors.js';
import type { AnomalyDetector } from '../../runtime/anomaly/detector.js';
import { adoptMerged, hostDeviations, LearnJournal, type BaselineDelta, type LearnedSince } from '../../runtime/baseline/merge.js';
import type { BaselineFile } from '../../runtime/baseline/baseline.js';
import { CentralError, type CentralClient } from './client.js';

export const INGEST_BASELINES_PATH = '/api/v1/ingest/baselines';

export interface BaselineSyncOptions {
  client: Pick<CentralClient, 'post'>;
  detector: AnomalyDetector;
  /** The journal the detector's onLearn hook records into. */
  journal: LearnJournal;
  /** This sensor's host name (deviations are kept per host). */
  host: string;
  /** Where the unsent push and the journal are kept across restarts (e.g. DIR/.central-sync.state). */
  stateFile?: string;
  onError?: (message: string) => void;
}

export interface BaselineSyncStats {
  pushes: number;
  failures: number;
  dropped: number;
  adopted: number;
  lastError: string | undefined;
}

interface PushAnswer {
  baselines: Array<{ workload: string; state: string; epoch: number; baseline: BaselineFile }>;
}

interface SavedState {
  version: 1;
  inFlight?: { pushId: string; baselines: BaselineDelta[] };
  epochs: Record<string, number>;
  journal: Record<string, LearnedSince>;
}

/** The detector hook that journals what it learns: `new AnomalyDetector({ onLearn: journalHook(journal) })`. */
export function journalHook(journal: LearnJournal) {
  return (b: { workload: { id: string } }, features: Parameters<LearnJournal['record']>[1], bin: number | undefined) => journal.record(b.workload.id, features, bin);
}

export class BaselineSync {
  readonly stats: BaselineSyncStats = { pushes: 0, failures: 0, dropped: 0, adopted: 0, lastError: undefined };
  private readonly epochs = new Map<string, number>();
  private inFlight: { pushId: string; baselines: BaselineDelta[] } | undefined;
  private running: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: BaselineSyncOptions) {
    this.restore();
  }

  /** Syncs every `intervalMs` (then lets the detector write what it adopted). */
  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      void this.sync().then(() => this.opts.detector.flush()).catch((e) => this.fail(describeError(e)));
    }, intervalMs);
    this.timer.unref();
  }

  /** One exchange with Central (a retry of the unsent push first); true when Central answered. Concurrent calls share one run. */
  sync(signal?: AbortSignal): Promise<boolean> {
    this.running ??= this.run(signal).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(signal?: AbortSignal): Promise<boolean> {
    if (this.inFlight && !(await this.send(this.inFlight, signal))) return false;
    const next = this.cut();
    if (!next.baselines.length) return true;
    this.inFlight = next;
    return this.send(next, signal);
  }

  /** The deltas of every workload the detector holds (an empty delta still fetches the lifecycle). */
  private cut(): { pushId: string; baselines: BaselineDelta[] } {
    const { detector, journal } = this.opts;
    const baselines: BaselineDelta[] = [];
    for (const [id, b] of detector.baselines) {
      if (detector.broken.has(id)) continue;
      const l = journal.take(id);
      baselines.push({
        workload: b.workload, epoch: this.epochs.get(id) ?? 0, learnMs: b.learnMs,
        firstSeenNs: b.firstSeenNs.toString(), lastSeenNs: b.lastSeenNs.toString(),
        events: l.events, replicas: b.replicas.slice(-64), hist: l.hist, items: l.items,
        deviations: hostDeviations(b),
      });
    }
    return { pushId: randomUUID(), baselines };
  }

  private async send(push: { pushId: string; baselines: BaselineDelta[] }, signal?: AbortSignal): Promise<boolean> {
    let answer: PushAnswer;
    try {
      answer = await this.opts.client.post<PushAnswer>(INGEST_BASELINES_PATH, { host: this.opts.host, ...push }, signal ? { signal } : undefined);
    } catch (e) {
      this.stats.failures++;
      if (e instanceof CentralError && (e.status === 400 || e.status === 413)) {
        // a malformed push never succeeds: drop it rather than block every later one
        this.inFlight = undefined;
        this.stats.dropped++;
      }
      this.fail(`baseline sync with Central failed: ${describeError(e)}`);
      return false;
    }
    this.inFlight = undefined;
    this.stats.pushes++;
    this.adopt(answer);
    return true;
  }

  private adopt(answer: PushAnswer): void {
    const { detector, journal } = this.opts;
    for (const a of answer.baselines) {
      this.epochs.set(a.workload, a.epoch);
      const local = detector.baselines.get(a.workload);
      if (!local) continue;
      try {
        adoptMerged(local, a.baseline, journal.peek(a.workload));
      } catch (e) {
        this.fail(`Central's baseline of ${a.workload} could not be adopted: ${describeError(e)}`);
        continue;
      }
      // a locked baseline learns nothing: what was journalled after the cut is not sent
      if (local.locked) journal.drop(a.workload);
      this.stats.adopted++;
    }
  }

  private fail(message: string): void {
    this.stats.lastError = message;
    this.opts.onError?.(message);
  }

  /** Stops the timer and saves the unsent push and the journal for the next start. */
  close(): void {
    clearInterval(this.timer);
    const file = this.opts.stateFile;
    if (!file) return;
    const state: SavedState = { version: 1, ...(this.inFlight ? { inFlight: this.inFlight } : {}), epochs: Object.fromEntries(this.epochs), journal: this.opts.journal.toJSON() };
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.fail(`cannot save the unsent baseline push to ${file}: ${describeError(e)}`);
    }
  }

  private restore(): void {
    const file = this.opts.stateFile;
    if (!file || !existsSync(file)) return;
    try {
      const s = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
      if (s.version !== 1) throw new Error(`version ${String(s.version)}`);
      if (s.inFlight) this.inFlight = s.inFlight;
      for (const [k, v] of Object.entries(s.epochs ?? {})) this.epochs.set(k, v);
      this.opts.journal.restore(s.journal ?? {});
    } catch (e) {
      // an unreadable state file costs what it held, never the sensor
      this.fail(`ignoring the baseline sync state ${file}: ${describeError(e)}`);
    }
  }
}
