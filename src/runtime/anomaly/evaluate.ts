/**
 * Evaluation on a labelled corpus (scripts/corpus/record.sh → test/fixtures/corpus/): the
 * detectors learn on the benign learning phase, lock, and are then scored on the held-out
 * benign phase (false positives) and on each attack scenario (detections), each scenario
 * from the same locked state (no scenario sees another's deviations). Used by the corpus
 * tests and `npm run bench:anomaly`.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Alert } from '../alerts/alert.js';
import type { RuntimeEvent } from '../event.js';
import { readEvents } from '../replay/index.js';
import { workloadOf } from '../baseline/identity.js';
import { AnomalyDetector, type DetectorOptions } from './detector.js';

export interface CorpusManifest {
  phases: { learn: { start: number; end: number; seconds: number; events: number }; test: { start: number; end: number; seconds: number; events: number } };
  pods: Array<{ name: string; pod: string; namespace: string; container: string; ownerKind: string; owner: string; learnEvents: number; testEvents: number }>;
  scenarios: Array<{ name: string; class: string; technique: string; container: string; file: string; events: number }>;
}

export function readManifest(dir: string): CorpusManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CorpusManifest;
}

/** The events of a corpus file (gzipped JSON lines, as `runtime replay` reads them). */
export async function readCorpusFile(path: string): Promise<RuntimeEvent[]> {
  const input = path.endsWith('.gz') ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  const out: RuntimeEvent[] = [];
  for await (const ev of readEvents(input, path, 'gatehouse')) out.push(ev);
  return out;
}

export interface Corpus {
  manifest: CorpusManifest;
  learn: RuntimeEvent[];
  test: RuntimeEvent[];
  attacks: Map<string, RuntimeEvent[]>;
}

export async function loadCorpus(dir: string): Promise<Corpus> {
  const manifest = readManifest(dir);
  const attacks = new Map<string, RuntimeEvent[]>();
  for (const s of manifest.scenarios) attacks.set(s.name, await readCorpusFile(join(dir, s.file)));
  return { manifest, learn: await readCorpusFile(join(dir, 'benign-learn.jsonl.gz')), test: await readCorpusFile(join(dir, 'benign-test.jsonl.gz')), attacks };
}

/** Something that turns events into alerts: the anomaly detector, an allowlist, Falco rules. */
export interface Scorer {
  name: string;
  /** Learns from the benign learning phase (and locks), if it learns at all. */
  train(events: RuntimeEvent[]): void;
  /** Alerts raised by the events, starting from the trained state (no state kept between calls). */
  run(events: RuntimeEvent[]): Alert[];
}

export interface ScenarioResult {
  name: string;
  class: string;
  technique: string;
  events: number;
  alerts: number;
  detected: boolean;
  rules: string[];
}

export interface Evaluation {
  scorer: string;
  benignAlerts: Alert[];
  /** False positives per workload per hour of benign traffic (held-out phase). */
  fpPerWorkloadHour: number;
  fpPerWorkloadDay: number;
  workloads: number;
  testSeconds: number;
  scenarios: ScenarioResult[];
  detectionRate: number;
  byClass: Map<string, { detected: number; total: number }>;
}

export function corpusWorkloads(c: Corpus): number {
  const ids = new Set<string>();
  for (const ev of c.test) ids.add(workloadOf(ev).id);
  return ids.size;
}

export function evaluate(scorer: Scorer, c: Corpus): Evaluation {
  scorer.train(c.learn);
  const benignAlerts = scorer.run(c.test);
  const workloads = corpusWorkloads(c);
  const hours = c.manifest.phases.test.seconds / 3600;
  const fpPerWorkloadHour = benignAlerts.length / workloads / hours;
  const scenarios: ScenarioResult[] = [];
  const byClass = new Map<string, { detected: number; total: number }>();
  for (const s of c.manifest.scenarios) {
    const evs = c.attacks.get(s.name) ?? [];
    const alerts = scorer.run(evs);
    const r: ScenarioResult = { name: s.name, class: s.class, technique: s.technique, events: evs.length, alerts: alerts.length, detected: alerts.length > 0, rules: [...new Set(alerts.map((a) => a.rule))] };
    scenarios.push(r);
    const k = byClass.get(s.class) ?? { detected: 0, total: 0 };
    k.total++;
    if (r.detected) k.detected++;
    byClass.set(s.class, k);
  }
  const detected = scenarios.filter((s) => s.detected).length;
  return {
    scorer: scorer.name,
    benignAlerts,
    fpPerWorkloadHour,
    fpPerWorkloadDay: fpPerWorkloadHour * 24,
    workloads,
    testSeconds: c.manifest.phases.test.seconds,
    scenarios,
    detectionRate: scenarios.length ? detected / scenarios.length : 0,
    byClass,
  };
}

/**
 * One-sided upper confidence bound (default 95%) on the mean of a Poisson count of which k
 * were observed: the λ with P(X <= k | λ) = 1 − confidence (exact, by bisection; for k = 0
 * it is −ln 0.05 ≈ 3, the rule of three). Divided by the exposure it bounds a rate.
 */
export function poissonUpperBound(k: number, confidence = 0.95): number {
  const cdf = (lambda: number): number => {
    let term = Math.exp(-lambda);
    let sum = term;
    for (let i = 1; i <= k; i++) {
      term *= lambda / i;
      sum += term;
    }
    return sum;
  };
  let lo = 0;
  let hi = k + 10 + 10 * Math.sqrt(k + 1);
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) > 1 - confidence) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(X >= k) for a Poisson count of mean lambda: how likely k or more false positives are at a given rate. */
export function poissonAtLeast(k: number, lambda: number): number {
  if (k <= 0) return 1;
  let term = Math.exp(-lambda);
  let below = term;
  for (let i = 1; i < k; i++) {
    term *= lambda / i;
    below += term;
  }
  return Math.max(0, 1 - below);
}

/** The benign-traffic exposure of an evaluation, and its false-positive rate with a 95% upper bound. */
export function falsePositiveRate(e: Evaluation): { count: number; workloadHours: number; perHour: number; upper95PerHour: number; upper95PerDay: number } {
  const workloadHours = (e.workloads * e.testSeconds) / 3600;
  const count = e.benignAlerts.length;
  const upper = poissonUpperBound(count) / workloadHours;
  return { count, workloadHours, perHour: count / workloadHours, upper95PerHour: upper, upper95PerDay: upper * 24 };
}

/** The anomaly detector (or, with mode allowlist, the static allowlist) as a Scorer. */
export class DetectorScorer implements Scorer {
  detector: AnomalyDetector;
  constructor(
    readonly name: string,
    private readonly options: DetectorOptions,
  ) {
    this.detector = new AnomalyDetector(options);
  }

  train(events: RuntimeEvent[]): void {
    this.detector = new AnomalyDetector({ ...this.options, autoLock: false });
    for (const ev of events) this.detector.push(ev);
    this.detector.lockAll();
  }

  run(events: RuntimeEvent[]): Alert[] {
    this.detector.resetObservations();
    const out: Alert[] = [];
    for (const ev of events) for (const a of this.detector.push(ev)) out.push(a);
    return out;
  }
}
