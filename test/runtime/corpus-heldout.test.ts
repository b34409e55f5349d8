/**
 * The HELD-OUT corpus (test/fixtures/corpus2), replayed. The model was shaped while looking
 * at the first corpus (test/fixtures/corpus, see corpus.test.ts), so its figures there are
 * optimistic. corpus2 was recorded later by the same scripts (CORPUS_VARIANT=2
 * scripts/corpus/record.sh): other request and client mixes, a longer held-out benign phase,
 * the scenarios in another order against the other replica, and scenarios the first corpus
 * does not have. The goals of issue 19 are checked here on data the model was not built on
 * (one change, the refused-write item, was made after seeing it: see the notes); every figure
 * is computed from the recording on each run.
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
  readManifest,
  type Corpus,
  type Evaluation,
} from '../../src/runtime/anomaly/evaluate.js';
import { ANOMALY_SOURCE, describeFeature, ruleFor } from '../../src/runtime/anomaly/index.js';
import { extractFeatures, workloadOf } from '../../src/runtime/baseline/index.js';

const DIR = fileURLToPath(new URL('../fixtures/corpus2', import.meta.url));
const TUNING = fileURLToPath(new URL('../fixtures/corpus', import.meta.url));
/** Issue 19's goal: at most one false positive per workload per day of benign traffic. */
const GOAL_PER_WORKLOAD_DAY = 1;

describe('held-out anomaly corpus (corpus2) replay', () => {
  let corpus: Corpus;
  let model: Evaluation;
  let allowlist: Evaluation;

  before(async () => {
    corpus = await loadCorpus(DIR);
    const learnMs = corpus.manifest.phases.learn.seconds * 1000;
    model = evaluate(new DetectorScorer('model', { learnMs }), corpus);
    allowlist = evaluate(new DetectorScorer('allowlist', { learnMs, mode: 'allowlist' }), corpus);
  });

  it('is a separate recording: four workloads x two replicas, a longer held-out phase, scenarios the tuning corpus lacks', () => {
    const m = corpus.manifest;
    const tuning = readManifest(TUNING);
    const ids = new Map<string, Set<string>>();
    for (const ev of corpus.test) {
      const id = workloadOf(ev).id;
      if (!ids.has(id)) ids.set(id, new Set());
      ids.get(id)!.add(String(ev['container.id']));
    }
    assert.equal(ids.size, 4, [...ids.keys()].join(', '));
    for (const [id, replicas] of ids) assert.equal(replicas.size, 2, id);
    // other containers, recorded at another time
    const tuningPods = new Set(tuning.pods.map((p) => p.name));
    for (const p of m.pods) assert.ok(!tuningPods.has(p.name), `${p.name} is also in the tuning corpus`);
    assert.ok(m.phases.learn.start > tuning.phases.test.end);
    assert.ok(m.phases.test.seconds >= 5 * tuning.phases.test.seconds, `held-out phase ${m.phases.test.seconds} s`);
    assert.ok(m.scenarios.length >= 15);
    const known = new Set(tuning.scenarios.map((s) => s.name));
    assert.ok(m.scenarios.some((s) => !known.has(s.name)), 'no scenario of its own');
    for (const s of m.scenarios) {
      assert.match(s.technique, /^T\d{4}(\.\d{3})?$/, s.name);
      assert.ok((corpus.attacks.get(s.name) ?? []).length > 0, `${s.name}: recorded events`);
    }
    assert.equal(corpus.learn.length, m.phases.learn.events);
    assert.equal(corpus.test.length, m.phases.test.events);
  });

  it('the model detects at least 95% of the held-out scenarios', () => {
    const missed = model.scenarios.filter((s) => !s.detected).map((s) => s.name);
    assert.ok(model.detectionRate >= 0.95, `detected ${(model.detectionRate * 100).toFixed(0)}%, missed ${missed.join(', ')}`);
  });

  it('its false positives on the held-out benign phase do not reject the goal of <= 1 per workload per day', () => {
    const fp = falsePositiveRate(model);
    // How likely this many (or more) false positives would be if the model met the goal exactly:
    // below 5% the recording contradicts the goal. (What it can show is the 95% upper bound, in the message.)
    const expectedAtGoal = (GOAL_PER_WORKLOAD_DAY / 24) * fp.workloadHours;
    const p = poissonAtLeast(fp.count, expectedAtGoal);
    assert.ok(
      p >= 0.05,
      `${fp.count} false positives in ${fp.workloadHours.toFixed(2)} workload-hours (p = ${p.toFixed(3)} at the goal; 95% upper bound ${fp.upper95PerDay.toFixed(0)}/workload/day)\n${model.benignAlerts.map((a) => a.output).join('\n')}`,
    );
  });

  it('gives at least 5x fewer false positives than the static allowlist at equal or better detection', () => {
    assert.ok(allowlist.benignAlerts.length >= 5 * Math.max(1, model.benignAlerts.length), `allowlist ${allowlist.benignAlerts.length}, model ${model.benignAlerts.length}`);
    // detection: every scenario the model misses, the allowlist misses too, or sees only through
    // sequence items (which the model keeps as supporting evidence, never an alert alone)
    const allowHits = new Map(allowlist.scenarios.map((s) => [s.name, s]));
    for (const s of model.scenarios) {
      const a = allowHits.get(s.name)!;
      if (!s.detected && a.detected) assert.deepEqual(a.rules, ['Anomalous event sequence'], `${s.name}: missed by the model, seen by the allowlist through ${a.rules.join(', ')}`);
    }
  });

  it('every held-out alert explains itself and comes out as gatehouse-anomaly', () => {
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
    assert.ok(n > 0);
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
