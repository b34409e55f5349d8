/**
 * The HELD-OUT corpora (test/fixtures/corpus2 and corpus3), replayed. The model was shaped while looking
 * at the first corpus (test/fixtures/corpus, see corpus.test.ts), so its figures there are
 * optimistic. corpus2 was recorded later by the same scripts (CORPUS_VARIANT=2
 * scripts/corpus/record.sh): other request and client mixes, a longer held-out benign phase,
 * the scenarios in another order against the other replica, and scenarios the first corpus
 * does not have. corpus3 is a third recording of the same kind (another seed and order, a
 * 600 s held-out phase), made after the one change chosen on corpus2 (the refused-write item)
 * and not looked at before it was evaluated. Detection is checked per recording; the false-
 * positive goals on the two pooled (rates need exposure). Every figure is computed from the
 * recordings on each run.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  DetectorScorer,
  evaluate,
  falsePositiveRate,
  loadCorpus,
  poissonAtLeast,
  poissonUpperBound,
  readManifest,
  type Corpus,
  type Evaluation,
} from '../../src/runtime/anomaly/evaluate.js';
import { ANOMALY_SOURCE, describeFeature, ruleFor } from '../../src/runtime/anomaly/index.js';
import { extractFeatures, workloadOf } from '../../src/runtime/baseline/index.js';

const TUNING = fileURLToPath(new URL('../fixtures/corpus', import.meta.url));
const HELD_OUT = ['corpus2', 'corpus3'];
/** Issue 19's goal: at most one false positive per workload per day of benign traffic. */
const GOAL_PER_WORKLOAD_DAY = 1;

interface Run {
  name: string;
  corpus: Corpus;
  model: Evaluation;
  allowlist: Evaluation;
}

describe('held-out anomaly corpora (corpus2, corpus3) replay', () => {
  const runs: Run[] = [];

  before(async () => {
    for (const name of HELD_OUT) {
      const corpus = await loadCorpus(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)));
      const learnMs = corpus.manifest.phases.learn.seconds * 1000;
      runs.push({
        name,
        corpus,
        model: evaluate(new DetectorScorer('model', { learnMs }), corpus),
        allowlist: evaluate(new DetectorScorer('allowlist', { learnMs, mode: 'allowlist' }), corpus),
      });
    }
  });

  it('each is a separate recording: four workloads x two replicas, a longer held-out phase, scenarios the tuning corpus lacks', () => {
    const tuning = readManifest(TUNING);
    const seen = new Set(tuning.pods.map((p) => p.name));
    for (const { name, corpus } of runs) {
      const m = corpus.manifest;
      const ids = new Map<string, Set<string>>();
      for (const ev of corpus.test) {
        const id = workloadOf(ev).id;
        if (!ids.has(id)) ids.set(id, new Set());
        ids.get(id)!.add(String(ev['container.id']));
      }
      assert.equal(ids.size, 4, `${name}: ${[...ids.keys()].join(', ')}`);
      for (const [id, replicas] of ids) assert.equal(replicas.size, 2, `${name}: ${id}`);
      // other containers than every recording before it, recorded later
      for (const p of m.pods) assert.ok(!seen.has(p.name), `${name}: ${p.name} is also in an earlier recording`);
      for (const p of m.pods) seen.add(p.name);
      assert.ok(m.phases.learn.start > tuning.phases.test.end, name);
      assert.ok(m.phases.test.seconds >= 3 * tuning.phases.test.seconds, `${name}: held-out phase ${m.phases.test.seconds} s`);
      assert.ok(m.scenarios.length >= 15, name);
      const known = new Set(tuning.scenarios.map((s) => s.name));
      assert.ok(m.scenarios.some((s) => !known.has(s.name)), `${name}: no scenario of its own`);
      for (const s of m.scenarios) {
        assert.match(s.technique, /^T\d{4}(\.\d{3})?$/, `${name}: ${s.name}`);
        assert.ok((corpus.attacks.get(s.name) ?? []).length > 0, `${name}: ${s.name}: recorded events`);
      }
      assert.equal(corpus.learn.length, m.phases.learn.events, name);
      assert.equal(corpus.test.length, m.phases.test.events, name);
    }
  });

  it('the model detects at least 95% of the scenarios of each held-out recording', () => {
    for (const { name, model } of runs) {
      const missed = model.scenarios.filter((s) => !s.detected).map((s) => s.name);
      assert.ok(model.detectionRate >= 0.95, `${name}: detected ${(model.detectionRate * 100).toFixed(0)}%, missed ${missed.join(', ')}`);
    }
  });

  it('its false positives on the pooled held-out benign phases do not reject the goal of <= 1 per workload per day', () => {
    const fps = runs.map((r) => falsePositiveRate(r.model));
    const count = fps.reduce((n, f) => n + f.count, 0);
    const workloadHours = fps.reduce((n, f) => n + f.workloadHours, 0);
    // How likely this many (or more) false positives would be if the model met the goal exactly:
    // below 5% the recordings contradict the goal. (What they can show is the 95% upper bound, in the message.)
    const p = poissonAtLeast(count, (GOAL_PER_WORKLOAD_DAY / 24) * workloadHours);
    const alerts = runs.flatMap((r) => r.model.benignAlerts.map((a) => `${r.name}: ${a.output}`));
    assert.ok(p >= 0.05, `${count} false positives in ${workloadHours.toFixed(2)} workload-hours (p = ${p.toFixed(3)} at the goal; 95% upper bound ${((poissonUpperBound(count) / workloadHours) * 24).toFixed(0)}/workload/day)\n${alerts.join('\n')}`);
  });

  it('gives at least 5x fewer false positives than the static allowlist (pooled) at equal or better detection (each)', () => {
    const model = runs.reduce((n, r) => n + r.model.benignAlerts.length, 0);
    const allow = runs.reduce((n, r) => n + r.allowlist.benignAlerts.length, 0);
    assert.ok(allow >= 5 * Math.max(1, model), `allowlist ${allow}, model ${model}`);
    // detection: every scenario the model misses, the allowlist misses too, or sees only through
    // sequence items (which the model keeps as supporting evidence, never an alert alone)
    for (const r of runs) {
      const allowHits = new Map(r.allowlist.scenarios.map((s) => [s.name, s]));
      for (const s of r.model.scenarios) {
        const a = allowHits.get(s.name)!;
        if (!s.detected && a.detected) assert.deepEqual(a.rules, ['Anomalous event sequence'], `${r.name}: ${s.name}: missed by the model, seen by the allowlist through ${a.rules.join(', ')}`);
      }
    }
  });

  it('every held-out alert explains itself and comes out as gatehouse-anomaly', () => {
    for (const { name, corpus } of runs) {
      const d = new DetectorScorer('model', { learnMs: corpus.manifest.phases.learn.seconds * 1000 });
      d.train(corpus.learn);
      let n = 0;
      for (const s of corpus.manifest.scenarios) {
        for (const a of d.run(corpus.attacks.get(s.name)!)) {
          n++;
          assert.equal(a.source, ANOMALY_SOURCE);
          assert.match(a.output, /is new for workload k8s:default\/shop\/\w+\/\w+\/\w+ \(score [\d.]+ bits >= threshold [\d.]+; compared with the baseline of \d+ events locked/, a.output);
        }
      }
      assert.ok(n > 0, name);
    }
  });
});

describe('refused writes (the one model change made after looking at corpus2)', () => {
  const open = (res: string) => ({
    'evt.type': 'openat', 'evt.res': res, 'evt.is_open_write': true, 'fd.type': 'file', 'fd.name': '/etc/cron.d/root',
    'proc.exepath': '/usr/bin/redis-server', 'proc.name': 'redis-server', 'container.id': 'c1', 'container.name': 'cache-0',
  });
  it('a write the kernel refused for permission is an item of its own; a missing file is not a refusal', () => {
    const keys = (res: string) => extractFeatures(open(res)).flatMap((f) => f.keys);
    for (const res of ['EACCES', 'EPERM', 'EROFS']) assert.ok(keys(res).includes('w!denied'), res);
    for (const res of ['SUCCESS', 'ENOENT']) assert.ok(!keys(res).includes('w!denied'), res);
  });
  it('is reported as an anomalous file write that says it was refused', () => {
    const f = extractFeatures(open('EACCES')).find((x) => x.keys.includes('w!denied'))!;
    assert.equal(ruleFor(f), 'Anomalous file write');
    assert.match(describeFeature(f), /^refused write below \/usr\/bin\/redis-server:\/etc\/cron\.d/);
  });
});
