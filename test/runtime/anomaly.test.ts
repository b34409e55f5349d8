/**
 * The anomaly model (issue 19 item 2), unit level: novelty surprisal with back-off, class
 * priors, capped sequences, replica consensus, threshold calibration to a false-positive
 * target, drops reported as gaps, the static-allowlist mode, and the alert's Falco JSON shape.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RuntimeEvent } from '../../src/runtime/event.js';
import { Baseline, workloadOf, type Feature } from '../../src/runtime/baseline/index.js';
import { SEQ_CAP } from '../../src/runtime/baseline/features.js';
import { ANOMALY_RULES, ANOMALY_SOURCE, AnomalyDetector, consensusScore, scoreFeature } from '../../src/runtime/anomaly/index.js';
import { rng } from '../helpers/random.js';

const SEC = 1_000_000_000;
const T0 = 1_800_000_000 * SEC;

function baseline(): Baseline {
  return new Baseline(workloadOf({ 'container.id': 'c1', 'container.name': 'web' }));
}
const F = (keys: string[], prior = 10, extra: Partial<Feature> = {}): Feature => ({ ch: 'exec', keys, prior, ...extra });

function ev(t: number, extra: RuntimeEvent, cid = 'c1', pod = 'web-7c9d5b6f48-x2k9p'): RuntimeEvent {
  return {
    'container.id': cid, 'container.name': pod, 'container.label[io.kubernetes.pod.name]': pod, 'container.label[io.kubernetes.pod.namespace]': 'shop',
    'container.label[io.kubernetes.container.name]': 'nginx', 'evt.rawtime': T0 + Math.round(t * SEC), 'proc.pid': 1000 + Math.floor(t), ...extra,
  };
}
const curl = (t: number, args: string, cid?: string) =>
  ev(t, { 'evt.type': 'execve', 'proc.exepath': '/usr/bin/curl', 'proc.name': 'curl', 'proc.args': args, 'proc.pexepath': '/usr/bin/runc', 'proc.aexepath': ['/usr/bin/runc', '/usr/bin/conmon'], 'user.name': 'root' }, cid);
const shell = (t: number, parent = '/usr/sbin/nginx', cid?: string, pod?: string) =>
  ev(t, { 'evt.type': 'execve', 'proc.exepath': '/bin/sh', 'proc.name': 'sh', 'proc.args': '-c id', 'proc.pexepath': parent, 'proc.aexepath': [parent, '/usr/bin/runc'], 'user.name': 'www-data' }, cid, pod);

describe('novelty score', () => {
  it('is 0 for known items and the Witten–Bell escape of the first known context otherwise', () => {
    const b = baseline();
    for (let i = 0; i < 1000; i++) b.learn(F(['curl [-s URL]', 'curl', 'class=net']));
    assert.equal(scoreFeature(b, F(['curl [-s URL]', 'curl', 'class=net'])).score, 0);
    const s = scoreFeature(b, F(['curl [-o /tmp/x URL]', 'curl', 'class=net']));
    assert.equal(s.known, 1);
    assert.ok(Math.abs(s.score - -Math.log2(2 / 1002)) < 1e-9, String(s.score));
    // a binary that is run with many argument shapes makes a new one cheap
    const v = baseline();
    for (let i = 0; i < 1000; i++) v.learn(F([`curl [${i % 200}]`, 'curl', 'class=net']));
    assert.ok(scoreFeature(v, F(['curl [new]', 'curl', 'class=net'])).score < 3);
  });

  it('grows with evidence: more observations of a context with the same variety make novelty rarer (property)', () => {
    const rnd = rng(19);
    for (let trial = 0; trial < 200; trial++) {
      const variants = 1 + Math.floor(rnd() * 20);
      const n1 = variants + Math.floor(rnd() * 500);
      const n2 = n1 + 1 + Math.floor(rnd() * 500);
      const score = (n: number) => {
        const b = baseline();
        for (let i = 0; i < n; i++) b.learn(F([`x [${i % variants}]`, 'x', 'class=s']));
        return scoreFeature(b, F(['x [new]', 'x', 'class=s'])).score;
      };
      assert.ok(score(n2) > score(n1), `variants=${variants} n1=${n1} n2=${n2}`);
    }
  });

  it('adds the class prior only when the class-level key is unknown; sequences are capped below any threshold', () => {
    const b = baseline();
    for (let i = 0; i < 100; i++) b.learn(F(['/usr/bin/curl [..] parent=runtime', '/usr/bin/curl', 'class=network-tool'], 12));
    const newShell = scoreFeature(b, F(['/bin/sh [-c id] parent=nginx', '/bin/sh', 'class=shell'], 12));
    const newTool = scoreFeature(b, F(['/usr/bin/wget [URL] parent=runtime', '/usr/bin/wget', 'class=network-tool'], 12));
    assert.equal(newShell.known, -1);
    assert.ok(newShell.score > newTool.score + 12 - 1e-9, `${newShell.score} vs ${newTool.score}`);
    const seq: Feature = { ch: 'seq', keys: ['/bin/sh: connect > dup', 'connect > dup'], prior: 0, cap: SEQ_CAP };
    for (let i = 0; i < 10_000; i++) b.learn({ ch: 'seq', keys: ['/usr/bin/curl: read > connect', 'read > connect'], prior: 0 });
    assert.equal(scoreFeature(b, { ...seq, cap: undefined }).score > SEQ_CAP, true, 'uncapped, a new ordering in a busy channel would score high');
    assert.equal(scoreFeature(b, seq).score, SEQ_CAP);
    assert.ok(SEQ_CAP < 10, 'below the lowest threshold');
  });

  it('replica consensus lowers the score of an item several replicas show', () => {
    assert.equal(consensusScore(20, 1), 20);
    assert.equal(consensusScore(20, 2), 18);
    assert.equal(consensusScore(20, 4), 16);
  });
});

function learnedDetector(opts: ConstructorParameters<typeof AnomalyDetector>[0] = {}): AnomalyDetector {
  const d = new AnomalyDetector({ learnMs: 100_000, ...opts });
  for (let t = 0; t < 100; t += 0.5) d.push(curl(t, '-fsS -o /dev/null http://127.0.0.1/health'));
  d.lockAll();
  return d;
}

describe('detector', () => {
  it('calibrates the threshold on the second half of the window to the false-positive target', () => {
    const mk = (targetPerDay: number) => {
      const d = new AnomalyDetector({ learnMs: 3_600_000, targetPerDay, minThreshold: 0, maxThreshold: 64 });
      for (let t = 0; t < 3600; t += 1) {
        d.push(curl(t, '-fsS http://127.0.0.1/health'));
        // benign novelties keep coming, one new argument shape every 5 minutes
        const letters = String(t).replace(/\d/g, (c) => 'abcdefghij'[Number(c)]!);
        if (t % 300 === 150) d.push(curl(t + 0.5, `--opt-${letters} http://127.0.0.1/`));
      }
      d.lockAll();
      return [...d.baselines.values()][0]!;
    };
    const strict = mk(1);
    const loose = mk(24 * 60);
    const hist = strict.calibration.hist;
    const maxBin = hist.reduce((m, v, i) => (v ? i : m), -1);
    assert.ok(maxBin >= 0, 'the second half held benign novelties');
    assert.ok(strict.calibration.threshold! > maxBin * 0.5, `${strict.calibration.threshold} above every benign novelty of the window`);
    assert.ok(loose.calibration.threshold! < strict.calibration.threshold!, 'a looser target gives a lower threshold');
  });

  it('raises one Falco-shaped alert per new item and container, explaining what, against what and the score', () => {
    const d = learnedDetector();
    const alerts = d.push(shell(200));
    assert.equal(alerts.length, 1);
    const a = alerts[0]!;
    assert.deepEqual(Object.keys(a).sort(), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time']);
    assert.equal(a.source, ANOMALY_SOURCE);
    assert.ok((Object.values(ANOMALY_RULES) as string[]).includes(a.rule));
    assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.match(a.output, /is new for workload k8s:default\/shop\/Deployment\/web\/nginx \(score [\d.]+ bits >= threshold [\d.]+; compared with the baseline of \d+ events/);
    assert.equal(a.output_fields['proc.exepath'], '/bin/sh');
    assert.ok(Number(a.output_fields['anomaly.score']) >= Number(a.output_fields['anomaly.threshold']));
    assert.equal(a.output_fields['anomaly.gaps'], 0);
    assert.deepEqual(d.push(shell(201)), [], 'the same item in the same container alerts once');
    assert.equal(d.push(shell(202, '/usr/sbin/nginx', 'c2', 'web-7c9d5b6f48-m4q7z')).length, 1, 'another replica alerts too');
  });

  it('drops: a gap is counted and every alert says so; continuity features are not scored during it', () => {
    const d = learnedDetector();
    d.noteDrops(37, BigInt(T0) + 199n * BigInt(SEC));
    assert.equal(d.stats.drops, 37);
    const a = d.push(shell(200))[0]!;
    assert.equal(a.output_fields['anomaly.gaps'], 37);
    assert.match(a.output, /the sensor lost 37 events in the last minute \(lineage and sequence not scored\)/);
    const items = [...[...d.baselines.values()][0]!.deviations.keys()];
    assert.ok(!items.some((k) => k.startsWith('lineage:') || k.startsWith('seq:')), items.join(', '));
    const later = learnedDetector();
    later.push(shell(200));
    assert.ok([...[...later.baselines.values()][0]!.deviations.keys()].some((k) => k.startsWith('lineage:')), 'without a gap the lineage is scored');
  });

  it('the static allowlist alerts on every unseen item; the model tolerates a new argument shape of a busy binary', () => {
    const model = learnedDetector();
    const allow = learnedDetector({ mode: 'allowlist' });
    const benign = curl(300, '-fsS -o /dev/null --max-time 3 http://127.0.0.1/health');
    assert.equal(model.push(benign).length, 0);
    const al = allow.push(benign);
    assert.equal(al.length, 1);
    assert.match(al[0]!.output, /is not in the allowlist/);
  });

  it('does not baseline the host itself', () => {
    const d = new AnomalyDetector({ learnMs: 1000 });
    assert.deepEqual(d.push({ 'container.id': 'host', 'evt.type': 'execve', 'proc.exepath': '/bin/sh', 'evt.rawtime': T0 }), []);
    assert.equal(d.baselines.size, 0);
  });
});
