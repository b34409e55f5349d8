/**
 * Sensors sharing baselines through Central (src/central/client/baseline-sync.ts), against a
 * real Central on SQLite and PostgreSQL, with the recorded corpus (test/fixtures/corpus): two
 * detectors play two hosts, each seeing one replica of every workload. Their pushes merge into
 * one baseline per workload whose counts are the sum of what each host learned (adoption in
 * between never counts anything twice, nor does a retried push); `gatehouse baseline lock`
 * against Central reaches both syncing detectors (their files too); an attack raises alerts,
 * its deviations show merged in Central, `gatehouse baseline accept` moves them into the
 * baseline and the same attack no longer alerts. A push Central never answered survives a
 * restart of the sensor.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnomalyDetector } from '../../src/runtime/anomaly/detector.js';
import { readCorpusFile, readManifest } from '../../src/runtime/anomaly/evaluate.js';
import { BaselineStore, workloadOf, type Baseline } from '../../src/runtime/baseline/index.js';
import { LearnJournal } from '../../src/runtime/baseline/merge.js';
import { BaselineSync, journalHook } from '../../src/central/client/baseline-sync.js';
import { CentralClient, CentralError } from '../../src/central/client/client.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';

const DIR = fileURLToPath(new URL('../fixtures/corpus', import.meta.url));
const manifest = readManifest(DIR);
const learn = await readCorpusFile(join(DIR, 'benign-learn.jsonl.gz'));
const attack = await readCorpusFile(join(DIR, 'attacks/download-execute.jsonl.gz'));
const LEARN_MS = 3_600_000;

/** Host of each replica: the first pod of an owner on node-a, the second on node-b. */
const hostOf = new Map<string, 'node-a' | 'node-b'>();
{
  const seen = new Map<string, number>();
  for (const p of manifest.pods) {
    const k = `${p.namespace}/${p.owner}/${p.container}`;
    const i = seen.get(k) ?? 0;
    seen.set(k, i + 1);
    hostOf.set(p.name, i === 0 ? 'node-a' : 'node-b');
  }
}
const onHost = (evs: RuntimeEvent[], host: string) => evs.filter((e) => hostOf.get(String(e['container.name'])) === host);

interface Node {
  host: string;
  detector: AnomalyDetector;
  journal: LearnJournal;
  sync: BaselineSync;
  dir: string;
  errors: string[];
}

function node(c: TestCentral, host: string, token: string, dir: string, client?: Pick<CentralClient, 'post'>): Node {
  const journal = new LearnJournal();
  const detector = new AnomalyDetector({ store: new BaselineStore(dir), learnMs: LEARN_MS, autoLock: false, onLearn: journalHook(journal) });
  const errors: string[] = [];
  const sync = new BaselineSync({ client: client ?? new CentralClient({ server: c.url, token }), detector, journal, host, stateFile: join(dir, '.central-sync.state'), onError: (m) => errors.push(m) });
  return { host, detector, journal, sync, dir, errors };
}

function countsOf(b: Baseline): Map<string, number> {
  const out = new Map<string, number>();
  for (const [ch, cc] of b.channels) for (const [k, v] of cc.c) out.set(`${ch}\u0000${k}`, v);
  return out;
}

const WEB = workloadOf(learn.find((e) => String(e['container.name']).includes('-web-'))!).id;

await storeTest('two hosts share one baseline per workload through Central; lock and accept via the CLI reach both sensors', async (dialect) => {
  const c = await startTestCentral({ dialect });
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-bsync-'));
  try {
    const sensorToken = await c.token('sensor');
    const a = node(c, 'node-a', sensorToken, join(tmp, 'a'));
    const b = node(c, 'node-b', sensorToken, join(tmp, 'b'));
    // what each host would have learned alone
    const aloneA = new AnomalyDetector({ learnMs: LEARN_MS, autoLock: false });
    const aloneB = new AnomalyDetector({ learnMs: LEARN_MS, autoLock: false });
    const evA = onHost(learn, 'node-a');
    const evB = onHost(learn, 'node-b');
    assert.ok(evA.length > 5000 && evB.length > 5000, `both hosts have events (${evA.length}, ${evB.length})`);
    for (const e of evA) aloneA.push(e);
    for (const e of evB) aloneB.push(e);

    // four rounds: each host learns a quarter of its events, then both sync (adopting each other's)
    for (let round = 0; round < 4; round++) {
      for (const [n, evs] of [[a, evA], [b, evB]] as const) {
        const from = Math.floor((evs.length * round) / 4);
        const to = Math.floor((evs.length * (round + 1)) / 4);
        for (let i = from; i < to; i++) n.detector.push(evs[i]!);
        assert.equal(await n.sync.sync(), true, n.errors.join('; '));
      }
    }
    assert.equal(await a.sync.sync(), true);

    const workloads = [...aloneA.baselines.keys()];
    assert.equal(workloads.length, 4, 'four workloads');
    for (const id of workloads) {
      const body = (await c.api('GET', `/api/v1/baselines/${encodeURIComponent(id)}`)).body;
      assert.deepEqual(body.hosts.map((h: any) => h.host), ['node-a', 'node-b'], id);
      const ra = aloneA.baselines.get(id)!;
      const rb = aloneB.baselines.get(id)!;
      assert.equal(body.observations, ra.events + rb.events, `${id}: events add up`);
      // the merged counts are exactly what both hosts learned, nothing counted twice
      const expected = countsOf(ra);
      for (const [k, v] of countsOf(rb)) expected.set(k, (expected.get(k) ?? 0) + v);
      const merged = a.detector.baselines.get(id)!;
      assert.deepEqual(countsOf(merged), expected, `${id}: node-a holds the merged counts`);
      assert.deepEqual(countsOf(b.detector.baselines.get(id)!).size > 0, true);
      assert.equal(merged.replicas.length, 2, `${id}: both replicas`);
      // distinct counts: at least each host's, at most their sum
      for (const [ch, cc] of merged.channels) {
        for (const [k, t] of cc.t) {
          const ta = ra.channels.get(ch)!.t.get(k) ?? 0;
          const tb = rb.channels.get(ch)!.t.get(k) ?? 0;
          assert.ok(t >= Math.max(ta, tb) && t <= ta + tb, `${id} ${ch} distinct under ${k}: ${t} vs ${ta}+${tb}`);
        }
      }
    }
    const list = await c.api('GET', '/api/v1/baselines?state=learning', undefined, await c.token('analyst'));
    assert.equal(list.body.items.length, 4);

    // lock the web Deployment with the CLI against Central (the API on PostgreSQL: the CLI is
    // the same on both, and spawning it is slow): both sensors adopt it at their next sync
    const cli = dialect === 'sqlite';
    const env = { GATEHOUSE_SERVER: c.url, GATEHOUSE_TOKEN: c.adminToken };
    const short = WEB.replace(/^k8s:default\//, '');
    if (cli) {
      const locked = await runCli(['baseline', 'lock', short], { env });
      assert.equal(locked.code, 0, locked.stderr);
      assert.match(locked.stdout, /locked k8s:default\/shop\/Deployment\/web\/nginx in Central/);
    } else assert.equal((await c.api('POST', `/api/v1/baselines/${encodeURIComponent(WEB)}/lock`)).body.changed, true);
    assert.equal(a.detector.baselines.get(WEB)!.locked, false);
    await a.sync.sync();
    await b.sync.sync();
    for (const n of [a, b]) {
      const w = n.detector.baselines.get(WEB)!;
      assert.equal(w.locked, true, `${n.host} adopted the lock`);
      assert.ok(w.calibration.threshold! >= 10);
      n.detector.flush();
      assert.equal(new BaselineStore(n.dir).load(WEB)!.state, 'locked', `${n.host}'s baseline file is locked too`);
      assert.equal(n.detector.baselines.get(workloads.find((x) => x !== WEB)!)!.locked, false, 'other workloads still learn');
    }

    // the attack on a web replica: alerts there, deviations shown merged in Central
    const alerts = [...attack.filter((e) => hostOf.get(String(e['container.name'])) === 'node-a'), ...attack.filter((e) => hostOf.get(String(e['container.name'])) === 'node-b')]
      .flatMap((e) => (hostOf.get(String(e['container.name'])) === 'node-a' ? a : b).detector.push(e));
    const webAlerts = alerts.filter((x) => x.output_fields['workload.id'] === WEB);
    assert.ok(webAlerts.length > 0, 'the attack raises anomaly alerts');
    await a.sync.sync();
    await b.sync.sync();
    let detail: any;
    if (cli) {
      const shown = await runCli(['baseline', 'show', WEB, '--format', 'json'], { env });
      assert.equal(shown.code, 0, shown.stderr);
      detail = JSON.parse(shown.stdout);
    } else detail = (await c.api('GET', `/api/v1/baselines/${encodeURIComponent(WEB)}`)).body;
    assert.equal(detail.state, 'locked');
    assert.ok(detail.deviations.length > 0);
    for (const al of webAlerts) assert.ok(detail.deviations.some((d: any) => d.item === al.output_fields['anomaly.item']), `${String(al.output_fields['anomaly.item'])} is a deviation in Central`);
    if (cli) {
      const table = await runCli(['baseline', 'list'], { env });
      assert.match(table.stdout, /k8s:default\/shop\/Deployment\/web\/nginx +locked/);
      const accepted = await runCli(['baseline', 'accept', WEB], { env });
      assert.equal(accepted.code, 0, accepted.stderr);
      assert.match(accepted.stdout, new RegExp(`accepted ${detail.deviations.length} deviation\\(s\\)`));
    } else assert.equal((await c.api('POST', `/api/v1/baselines/${encodeURIComponent(WEB)}/accept`, {})).body.accepted.length, detail.deviations.length);
    await a.sync.sync();
    await b.sync.sync();
    for (const n of [a, b]) assert.equal(n.detector.baselines.get(WEB)!.deviations.size, 0, `${n.host}: accepted deviations leave the sensor`);
    assert.equal((await c.api('GET', `/api/v1/baselines/${encodeURIComponent(WEB)}`)).body.deviations.length, 0);
    // the same attack again: known behaviour now, nothing alerts for the web workload
    for (const n of [a, b]) n.detector.resetObservations();
    const again = attack.flatMap((e) => (hostOf.get(String(e['container.name'])) === 'node-a' ? a : b).detector.push(e)).filter((x) => x.output_fields['workload.id'] === WEB);
    assert.deepEqual(again.map((x) => x.output_fields['anomaly.item']), []);
  } finally {
    await c.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

await storeTest('a push whose answer was lost is retried as it was and counted once; an unsent push survives a restart', async (dialect) => {
  const c = await startTestCentral({ dialect });
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-bsync-'));
  try {
    const token = await c.token('sensor');
    const real = new CentralClient({ server: c.url, token });
    let mode: 'ok' | 'lose-answer' | 'down' = 'ok';
    const flaky = {
      post: async <T>(path: string, body: unknown, o?: { signal?: AbortSignal }): Promise<T> => {
        if (mode === 'down') throw new CentralError(`cannot reach Central at ${c.url}: connect ECONNREFUSED`, undefined);
        const r = await real.post<T>(path, body, o);
        if (mode === 'lose-answer') throw new CentralError('Central: reading the answer failed: socket hang up', undefined);
        return r;
      },
    };
    const evs = onHost(learn, 'node-a').slice(0, 3000);
    const a = node(c, 'node-a', token, join(tmp, 'a'), flaky);
    for (const e of evs.slice(0, 1000)) a.detector.push(e);
    mode = 'lose-answer';
    assert.equal(await a.sync.sync(), false);
    assert.match(a.errors[0]!, /baseline sync with Central failed: .*socket hang up/);
    mode = 'ok';
    for (const e of evs.slice(1000, 2000)) a.detector.push(e);
    assert.equal(await a.sync.sync(), true, a.errors.join('; '));
    const alone = new AnomalyDetector({ learnMs: LEARN_MS, autoLock: false });
    for (const e of evs.slice(0, 2000)) alone.push(e);
    const total = (id: string) => c.api('GET', `/api/v1/baselines/${encodeURIComponent(id)}`).then((r) => r.body.observations as number);
    for (const [id, b] of alone.baselines) assert.equal(await total(id), b.events, `${id}: the retried push is counted once`);

    // Central down at exit: the unsent push and what was learned since are saved and sent by the next run
    mode = 'down';
    for (const e of evs.slice(2000)) a.detector.push(e);
    assert.equal(await a.sync.sync(), false);
    a.sync.close();
    a.detector.flush();
    assert.equal(a.errors.filter((m) => /cannot save/.test(m)).length, 0, a.errors.join('; '));
    mode = 'ok';
    const restarted = node(c, 'node-a', token, join(tmp, 'a'), flaky);
    // the restarted sensor meets its workloads again (loaded from its files) before it syncs
    for (const e of evs.slice(0, 1)) restarted.detector.push(e);
    for (const id of alone.baselines.keys()) restarted.detector.push(evs.find((e) => workloadOf(e).id === id)!);
    assert.equal(await restarted.sync.sync(), true, restarted.errors.join('; '));
    await restarted.sync.sync();
    const after = new AnomalyDetector({ learnMs: LEARN_MS, autoLock: false });
    for (const e of evs) after.push(e);
    let sum = 0;
    let want = 0;
    for (const [id, b] of after.baselines) {
      sum += await total(id);
      want += b.events;
    }
    // the restarted sensor learned its extra events (one per workload, and the first) too
    assert.equal(sum, want + 1 + after.baselines.size);
  } finally {
    await c.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
