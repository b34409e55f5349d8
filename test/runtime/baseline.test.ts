/**
 * Baselines (issue 19 item 1): workload identity (replicas share one), what a baseline holds
 * (generalised items), its lifecycle (learn → auto-lock → unlock, accept), its files (atomic,
 * corrupt files are clear errors and never overwritten) and the `gatehouse baseline` CLI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeEvent } from '../../src/runtime/event.js';
import { Baseline, BaselineStore, argShape, argsShape, dirPrefix, extractFeatures, ownerFromPodName, parseDuration, workloadOf } from '../../src/runtime/baseline/index.js';
import { AnomalyDetector } from '../../src/runtime/anomaly/index.js';
import { isUserError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';

const SEC = 1_000_000_000;
const T0 = 1_800_000_000 * SEC;

function podEvent(pod: string, extra: RuntimeEvent = {}, container = 'nginx', cid = `cid-${pod}`): RuntimeEvent {
  return {
    'container.id': cid,
    'container.name': `k8s_${container}_${pod}`,
    'container.label[io.kubernetes.pod.name]': pod,
    'container.label[io.kubernetes.pod.namespace]': 'shop',
    'container.label[io.kubernetes.container.name]': container,
    'evt.rawtime': T0,
    ...extra,
  };
}

function exec(pod: string, t: number, exe: string, args: string, cid?: string, parent = '/usr/sbin/nginx'): RuntimeEvent {
  return podEvent(pod, {
    'evt.type': 'execve', 'evt.rawtime': T0 + t * SEC, 'proc.pid': 100 + t, 'proc.exepath': exe, 'proc.name': exe.slice(exe.lastIndexOf('/') + 1),
    'proc.args': args, 'proc.pexepath': parent, 'proc.aexepath': [parent, '/usr/bin/conmon'], 'user.name': 'root',
  }, 'nginx', cid);
}

describe('workload identity', () => {
  it('reads the owner from pod names as the controllers build them', () => {
    assert.deepEqual(ownerFromPodName('web-7c9d5b6f48-x2k9p'), ['Deployment', 'web']);
    assert.deepEqual(ownerFromPodName('my-api-5f6b8d7c9-h8t2w'), ['Deployment', 'my-api']);
    assert.deepEqual(ownerFromPodName('cache-0'), ['StatefulSet', 'cache']);
    assert.deepEqual(ownerFromPodName('node-exporter-x2k9p'), ['DaemonSet', 'node-exporter']);
    // "q9r3v" holds a 3, which the controllers' alphabet never produces: not a generated suffix
    assert.deepEqual(ownerFromPodName('api-5f6b8d7c9-q9r3v'), ['Pod', 'api-5f6b8d7c9-q9r3v']);
    assert.deepEqual(ownerFromPodName('standalone'), ['Pod', 'standalone']);
  });

  it('gives replicas one identity, and prefers k8s.* owner fields when a source fills them', () => {
    const a = workloadOf(podEvent('web-7c9d5b6f48-x2k9p'));
    const b = workloadOf(podEvent('web-7c9d5b6f48-m4q7z'));
    assert.equal(a.id, 'k8s:default/shop/Deployment/web/nginx');
    assert.equal(a.id, b.id);
    assert.notEqual(a.id, workloadOf(podEvent('web-7c9d5b6f48-x2k9p', {}, 'sidecar')).id);
    const sts = workloadOf(podEvent('weird-name', { 'k8s.statefulset.name': 'db', 'k8s.ns.name': 'prod' }));
    assert.equal(sts.id, 'k8s:default/prod/StatefulSet/db/nginx');
    assert.equal(workloadOf(podEvent('x', { 'k8s.rs.name': 'front-6d4cf56db6' })).id, 'k8s:default/shop/Deployment/front/nginx');
    assert.equal(workloadOf(podEvent('cache-1'), { cluster: 'eu' }).id, 'k8s:eu/shop/StatefulSet/cache/nginx');
  });

  it('uses host, image and container name on plain hosts', () => {
    const w = workloadOf({ 'container.id': 'abc', 'container.name': 'proxy', 'container.image.repository': 'docker.io/library/nginx', 'evt.hostname': 'node1' });
    assert.equal(w.id, 'host:node1/docker.io/library/nginx/proxy');
    assert.equal(w.kind, 'Container');
  });
});

describe('baseline items', () => {
  it('generalises argument shapes: numbers, addresses, hex, paths, URLs', () => {
    assert.equal(argsShape('-n -T 5 -c 3 -h 10.88.0.7 -U postgres postgres'), '-n -T # -c # -h IP -U postgres postgres');
    assert.equal(argsShape('-n -T 5 -c 4 -h 10.88.0.9 -U postgres postgres'), argsShape('-n -T 5 -c 3 -h 10.88.0.7 -U postgres postgres'));
    assert.equal(argShape('deadbeefcafe1234'), 'H');
    assert.equal(argShape('/var/lib/postgresql/15/main/base/16384'), '/var/lib/postgresql/#/main/base/#');
    assert.equal(argShape('--port=6379'), '--port=#');
    assert.equal(argShape('http://10.0.0.1:8080/x'), 'URL(http)');
    assert.equal(dirPrefix('/var/lib/postgresql/15/main/base/16384/2619'), '/var/lib/postgresql/#');
    assert.equal(dirPrefix('/tmp/x'), '/tmp');
  });

  it('gives each event kind its channel and a key chain from specific to generic', () => {
    const f = extractFeatures(exec('web-7c9d5b6f48-x2k9p', 1, '/tmp/.x', ''));
    assert.equal(f[0]!.ch, 'exec');
    assert.deepEqual(f[0]!.keys, ['/tmp/.x [] parent=/usr/sbin/nginx user=root', '/tmp/.x parent=/usr/sbin/nginx', '/tmp/.x', 'class=writable-dir']);
    assert.equal(f[1]!.ch, 'lineage');
    const w = extractFeatures({ 'evt.type': 'openat', 'fd.name': '/usr/bin/evil', 'evt.is_open_write': true, 'proc.exepath': '/bin/sh' });
    assert.deepEqual(w[0]!.keys, ['w:/bin/sh:/usr/bin', 'w:/usr/bin', 'w:/usr']);
    assert.ok(w[0]!.prior > 10, 'a write below /usr/bin is a risky class');
    const r = extractFeatures({ 'evt.type': 'openat', 'fd.name': '/var/run/secrets/kubernetes.io/serviceaccount/token', 'evt.is_open_read': true, 'proc.exepath': '/bin/cat' });
    assert.deepEqual(r[0]!.keys.slice(2), ['r:class=service-account-token', 'r:sensitive']);
    assert.deepEqual(extractFeatures({ 'evt.type': 'openat', 'fd.name': '/etc/hosts', 'evt.is_open_read': true }), [], 'ordinary reads are not items');
    const c = extractFeatures({ 'evt.type': 'connect', 'fd.type': 'ipv4', 'fd.l4proto': 'tcp', 'fd.sip': '10.88.0.5', 'fd.sport': 5432, 'proc.exepath': '/usr/bin/python3' }, { workloadOfIp: (ip) => (ip === '10.88.0.5' ? 'k8s:default/shop/StatefulSet/db/postgres' : undefined) });
    assert.deepEqual(c[0]!.keys, ['out:tcp:workload=k8s:default/shop/StatefulSet/db/postgres:5432:/usr/bin/python#', 'out:tcp:workload=k8s:default/shop/StatefulSet/db/postgres:5432', 'out:tcp:namespace=shop:5432', 'out:tcp:*:5432', 'out:tcp']);
    assert.equal(c[0]!.priorLevel, 3, 'the prior applies to a port never contacted');
    const ext = extractFeatures({ 'evt.type': 'connect', 'fd.type': 'ipv4', 'fd.l4proto': 'tcp', 'fd.sip': '93.184.216.34', 'fd.sport': 443, 'proc.exepath': '/usr/bin/curl' });
    assert.deepEqual(ext[0]!.keys, ['out:tcp:93.184.0.0/16:443:/usr/bin/curl', 'out:tcp:93.184.0.0/16:443', 'out:tcp:*:443', 'out:tcp']);
    const seq = extractFeatures({ 'evt.type': 'dup2', 'proc.exepath': '/bin/bash' }, { prevClass: 'connect' });
    assert.deepEqual(seq.map((x) => x.ch), ['sys', 'seq']);
    assert.deepEqual(extractFeatures({ 'evt.type': 'dup2', 'proc.exepath': '/bin/bash' }, { prevClass: 'connect', gap: true }).map((x) => x.ch), ['sys'], 'no sequence item across a gap');
  });
});

describe('baseline lifecycle', () => {
  it('learns during the window (event time), locks itself when it ends, then records deviations', () => {
    const d = new AnomalyDetector({ learnMs: 60_000 });
    const pod = 'web-7c9d5b6f48-x2k9p';
    for (let t = 0; t < 60; t++) assert.deepEqual(d.push(exec(pod, t, '/usr/bin/curl', `-fsS http://127.0.0.1:${8000 + t}/`)), []);
    const b = [...d.baselines.values()][0]!;
    assert.equal(b.state, 'learning');
    assert.ok(b.progress() > 0.95 && b.progress() < 1);
    d.push(exec(pod, 61, '/usr/bin/curl', '-fsS http://127.0.0.1/'));
    assert.equal(b.state, 'locked', 'locked when the window ended');
    assert.ok(b.calibration.threshold! >= 10);
    const alerts = d.push(exec(pod, 62, '/tmp/.x', ''));
    assert.equal(alerts.length, 1);
    assert.equal(b.deviations.size >= 1, true);
    // the other replica shares the baseline: same workload, no learning there either
    const other = d.push(exec('web-7c9d5b6f48-m4q7z', 63, '/tmp/.x', '', 'cid-other'));
    assert.equal(d.baselines.size, 1);
    assert.equal(other.length, 1);
    assert.match(other[0]!.output, /seen in 2 of 2 replicas/);
    assert.ok(Number(other[0]!.output_fields['anomaly.score']) < Number(alerts[0]!.output_fields['anomaly.score']), 'consensus of replicas lowers the score');
  });

  it('accept adds a deviation to the baseline; unlock starts a new window', () => {
    const d = new AnomalyDetector({ learnMs: 10_000 });
    const pod = 'cache-0';
    for (let t = 0; t <= 11; t++) d.push(exec(pod, t, '/usr/bin/redis-cli', 'ping'));
    const b = [...d.baselines.values()][0]!;
    assert.ok(b.locked);
    assert.equal(d.push(exec(pod, 12, '/bin/bash', '-c redis-benchmark')).length, 1, 'a shell, never seen in this workload');
    const items = [...b.deviations.keys()];
    assert.ok(items.some((k) => k.startsWith('exec:/bin/bash')) && items.some((k) => k.startsWith('lineage:/bin/bash')), items.join(', '));
    for (const item of items) assert.ok(b.accept(item));
    assert.equal(b.accept('exec:nothing'), false);
    d.resetObservations();
    assert.equal(d.push(exec(pod, 13, '/bin/bash', '-c redis-benchmark')).length, 0, 'accepted: known behaviour');
    b.unlock();
    assert.equal(b.state, 'learning');
    assert.equal(d.push(exec(pod, 14, '/bin/sh', '-c id')).length, 0, 'learning raises nothing');
  });

  it('parses durations', () => {
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.throws(() => parseDuration('soon', '--learn'), /--learn must look like 90s/);
    assert.throws(() => parseDuration('0s'), /must be positive/);
  });
});

function learnedStore(): { dir: string; store: BaselineStore; id: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-baseline-'));
  const store = new BaselineStore(dir);
  const d = new AnomalyDetector({ store, learnMs: 10_000 });
  for (let t = 0; t <= 11; t++) d.push(exec('web-7c9d5b6f48-x2k9p', t, '/usr/bin/curl', '-fsS http://127.0.0.1/'));
  d.push(exec('web-7c9d5b6f48-x2k9p', 12, '/bin/sh', '-c id'));
  d.flush();
  return { dir, store, id: 'k8s:default/shop/Deployment/web/nginx' };
}

describe('baseline files', () => {
  it('round-trip one file per workload, written atomically', () => {
    const { dir, store, id } = learnedStore();
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^default_shop_Deployment_web_nginx\.[0-9a-f]{12}\.json$/);
    const b = store.load(id)!;
    assert.equal(b.state, 'locked');
    assert.equal(b.count('exec', '/usr/bin/curl'), 11, 'learned until the window ended (10 s after the first event)');
    assert.ok(b.deviations.size >= 1);
    const again = Baseline.fromJSON(JSON.parse(JSON.stringify(b.toJSON())), 'x');
    assert.deepEqual(again.toJSON(), b.toJSON());
    assert.equal(store.load('k8s:default/shop/Deployment/nope/nginx'), undefined);
  });

  it('a corrupt file is a clear error, is never overwritten, and stops nothing else', () => {
    for (const [name, content] of [
      ['truncated', '{"kind":"Baseline","version":1,"workload":{"id":"k8s:'],
      ['wrong kind', '{"kind":"Policy"}'],
      ['bad counts', '{"kind":"Baseline","version":1,"workload":{"id":"k8s:default/shop/Deployment/web/nginx"},"state":"locked","learnMs":1000,"firstSeenNs":"1","lastSeenNs":"2","channels":{"exec":{"n":1,"counts":{"a":"many"},"distinct":{}}}}'],
      ['future version', '{"kind":"Baseline","version":99}'],
      ['unknown field', '{"kind":"Baseline","version":1,"workload":{"id":"k8s:default/shop/Deployment/web/nginx"},"state":"locked","learnMs":1000,"firstSeenNs":"1","lastSeenNs":"2","channels":{},"lockedAtt":"x"}'],
    ] as const) {
      const { store, id } = learnedStore();
      const file = store.fileFor(id);
      writeFileSync(file, content);
      assert.throws(() => store.load(id), (e: unknown) => isUserError(e) && e.message.includes(file) && e.message.includes('corrupt') && !e.message.includes('\n'), name);
      // the sensor's detector skips that workload, reports it once, and never saves over it
      const errors: string[] = [];
      const d = new AnomalyDetector({ store, learnMs: 1000, onError: (m) => errors.push(m) });
      d.push(exec('web-7c9d5b6f48-x2k9p', 100, '/bin/sh', ''));
      d.push(exec('web-7c9d5b6f48-x2k9p', 101, '/bin/sh', ''));
      assert.equal(errors.length, 1, name);
      assert.equal(d.flush(), 0);
      assert.throws(() => store.save(new Baseline(workloadOf(exec('web-7c9d5b6f48-x2k9p', 1, '/x', '')))), /not overwriting/);
      assert.equal(readFileSync(file, 'utf8'), content, `${name}: the file is untouched`);
    }
  });

  it('a file changed by the CLI while the detector runs is read back, not overwritten', () => {
    const { store, id } = learnedStore();
    const d = new AnomalyDetector({ store, learnMs: 10_000 });
    d.push(exec('web-7c9d5b6f48-x2k9p', 50, '/usr/bin/curl', '-fsS http://127.0.0.1/'));
    assert.equal(d.baselines.get(id)!.state, 'locked');
    // meanwhile: gatehouse baseline unlock
    const other = new BaselineStore(store.dir);
    const b = other.load(id)!;
    b.unlock();
    const t = Date.now() / 1000 + 5;
    other.save(b);
    utimesSync(store.fileFor(id), t, t);
    d.push(exec('web-7c9d5b6f48-x2k9p', 51, '/bin/sh', '-c whoami'));
    d.flush();
    assert.equal(store.load(id)!.state, 'learning', 'the unlock survived the flush');
    assert.equal(d.baselines.get(id)!.state, 'learning', 'and the detector follows it');
    assert.equal(d.push(exec('web-7c9d5b6f48-x2k9p', 52, '/bin/bash', '-c whoami')).length, 0, 'learning again');
  });

  it('leaves no temporary file behind', () => {
    const { dir } = learnedStore();
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
  });
});

describe('gatehouse baseline (CLI)', () => {
  it('show, lock, unlock and accept a stored baseline', async () => {
    const { dir, id } = learnedStore();
    const short = 'shop/Deployment/web/nginx';
    const list = await runCli(['baseline', 'list', '--baseline-dir', dir]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /k8s:default\/shop\/Deployment\/web\/nginx\s+locked/);
    const show = await runCli(['baseline', 'show', short, '--baseline-dir', dir]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /state:\s+locked/);
    assert.match(show.stdout, /\/usr\/bin\/curl \[-fsS URL\(http\)\] parent=\/usr\/sbin\/nginx user=root/);
    assert.match(show.stdout, /exec:\/bin\/sh \[-c id\]/, 'the deviation is listed');
    const json = JSON.parse((await runCli(['baseline', 'show', id, '--baseline-dir', dir, '--format', 'json'])).stdout) as { state: string; deviations: Record<string, unknown> };
    assert.equal(json.state, 'locked');
    const item = Object.keys(json.deviations).find((k) => k.startsWith('exec:'))!;
    const acc = await runCli(['baseline', 'accept', short, item, '--baseline-dir', dir]);
    assert.equal(acc.code, 0, acc.stderr);
    assert.match(acc.stdout, /accepted 1 deviation/);
    const after = JSON.parse((await runCli(['baseline', 'show', id, '--baseline-dir', dir, '--format', 'json'])).stdout) as { deviations: Record<string, unknown>; channels: { exec: { counts: Record<string, number> } } };
    assert.equal(after.deviations[item], undefined);
    assert.ok(after.channels.exec.counts['/bin/sh']! >= 1, 'the accepted item is in the baseline');
    const un = await runCli(['baseline', 'unlock', short, '--baseline-dir', dir]);
    assert.equal(un.code, 0, un.stderr);
    assert.match((await runCli(['baseline', 'show', short, '--baseline-dir', dir])).stdout, /state:\s+learning/);
    const lock = await runCli(['baseline', 'lock', short, '--baseline-dir', dir]);
    assert.equal(lock.code, 0, lock.stderr);
    assert.match(lock.stdout, /locked k8s:default\/shop\/Deployment\/web\/nginx/);
  });

  it('bad input: unknown workload, unknown item, corrupt file, missing dir — one-line errors, nothing lost', async () => {
    const { dir, store, id } = learnedStore();
    const unknown = await runCli(['baseline', 'show', 'shop/Deployment/nope/nginx', '--baseline-dir', dir]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no baseline for workload 'k8s:default\/shop\/Deployment\/nope\/nginx'.*known workloads: k8s:default\/shop\/Deployment\/web\/nginx/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /, 'no stack trace');
    const item = await runCli(['baseline', 'accept', id, 'exec:/nothing', '--baseline-dir', dir]);
    assert.notEqual(item.code, 0);
    assert.match(item.stderr, /'exec:\/nothing' is not a deviation/);
    const before = readFileSync(store.fileFor(id), 'utf8');
    assert.ok(JSON.parse(before).deviations, 'unchanged by the failed accept');
    const file = store.fileFor(id);
    writeFileSync(file, '{"kind": "Baseline", "version": 1, "workl');
    for (const args of [['show', id], ['lock', id], ['unlock', id], ['accept', id]]) {
      const r = await runCli(['baseline', ...args, '--baseline-dir', dir]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, /baseline file .* is corrupt: not valid JSON/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
    assert.equal(readFileSync(file, 'utf8'), '{"kind": "Baseline", "version": 1, "workl', 'the corrupt file is kept as it was');
    const noDir = await runCli(['baseline', 'show', id]);
    assert.notEqual(noDir.code, 0);
    assert.match(noDir.stderr, /give --baseline-dir DIR/);
    assert.ok(existsSync(file));
  });
});
