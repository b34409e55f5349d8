/**
 * `--nats` on the bus's other clients, with real parts: a real nats-server (JetStream, file
 * store) and a real `gatehouse server --nats` whose bus consumer stores what arrives.
 *   - `runtime replay --nats`: its alerts end up in Central, once however often it is run;
 *     with NATS down it is one line and exit 2, and running it again once NATS is up loses
 *     nothing;
 *   - `engine-proxy --nats` in front of podman's socket and `admission serve --nats`: their
 *     decisions end up in Central; NATS is killed (kill -9) while they keep answering, then
 *     started again: every decision they answered is stored exactly once.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { missing, podmanSocket } from '../helpers/components.js';
import { natsSkip, startCentralCli, startNats, tempDir, waitFor, type CentralProcess, type NatsServer } from './helpers.js';
import { DENY_INFO, auditLines, dockerGet, listAll, privilegedPodReview, startProxy, startWebhook } from './client-procs.js';

const skip = natsSkip();
const work = tempDir('clients');
after(() => rmSync(work, { recursive: true, force: true }));

/** Recorded events in the Gatehouse model: `cat` reading /etc/shadow in a container, `count` times. */
function shadowReads(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({
      'evt.num': i + 1, 'evt.type': 'openat', 'evt.dir': '<', 'evt.rawtime': String(1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n),
      'evt.is_open_read': true, 'fd.typechar': 'f', 'fd.num': 3, 'fd.name': '/etc/shadow',
      'proc.name': 'cat', 'proc.exepath': '/usr/bin/cat', 'proc.cmdline': 'cat /etc/shadow', 'proc.pname': 'bash', 'proc.pid': 300 + i,
      'user.name': 'root', 'user.uid': 0, 'container.id': '0123456789ab', 'container.name': 'web', 'container.image': 'docker.io/library/nginx:1.25', 'evt.hostname': 'node1',
    }));
  }
  return `${lines.join('\n')}\n`;
}

const SHADOW_RULE = `- rule: shadow read by cat
  desc: cat opens /etc/shadow
  condition: evt.type in (open, openat) and proc.name=cat and fd.name=/etc/shadow
  output: "shadow read (command=%proc.cmdline pid=%proc.pid)"
  priority: WARNING
`;

interface StoredEvent { id: string; rule: string; cluster: string | null; host: string | null; data: Record<string, unknown>; finding: { detail: string } | null }

describe('--nats on runtime replay, engine-proxy and admission serve', { skip }, () => {
  let nats: NatsServer;
  let central: CentralProcess;
  before(async () => {
    nats = await startNats();
    central = await startCentralCli(['--nats', nats.url]);
  });
  after(async () => {
    await central?.stop();
    await nats?.stop();
  });

  test('runtime replay --nats: the alerts reach Central through the bus; NATS down is one line and exit 2, and a run once it is back stores each alert once', { timeout: 300_000 }, async () => {
    const events = join(work, 'shadow.jsonl');
    const rules = join(work, 'shadow-rule.yaml');
    writeFileSync(events, shadowReads(25));
    writeFileSync(rules, SHADOW_RULE);
    const replay = () => runCli(['runtime', 'replay', events, '-r', rules, '--format', 'json', '--nats', nats.url], { env: { GATEHOUSE_SERVER: undefined }, timeoutMs: 120_000 });
    const stored = () => listAll<StoredEvent>(central.get, '/api/v1/alerts?source=runtime-replay');

    await nats.stop();
    const down = await replay();
    assert.equal(down.code, 2, down.stderr);
    const alertLines = down.stdout.trim().split('\n').map((l) => JSON.parse(l) as { output: string });
    assert.equal(alertLines.length, 25, 'the report is written before the publish');
    const errLines = down.stderr.trim().split('\n');
    assert.match(errLines.at(-1)!, /^gatehouse: the report was written, but publishing 25 runtime-replay events to NATS nats:\/\/127\.0\.0\.1:\d+ failed: cannot reach it/);
    assert.doesNotMatch(down.stderr, /\n\s+at /, 'no stack trace');

    await nats.restart();
    const first = await replay();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /published 25 runtime-replay events to NATS/);
    await waitFor('25 replayed alerts in Central', async () => (await stored()).length >= 25, 60_000, 250);
    const again = await replay();
    assert.equal(again.code, 0, again.stderr);
    // The second run's events reach Central too (or are dropped by JetStream): let the consumer drain before counting.
    await waitFor('the bus drained', async () => /gatehouse_central_bus_consumer_pending(\{[^}]*\})? 0\b/.test((await central.get('/metrics')).text), 60_000, 250);
    const alerts = await stored();
    assert.equal(alerts.length, 25, 'each alert stored once however often the trace is replayed');
    assert.equal(new Set(alerts.map((a) => a.id)).size, 25);
    assert.deepEqual(alerts.map((a) => a.finding!.detail).sort(), alertLines.map((a) => a.output).sort());
    assert.ok(alerts.every((a) => a.rule === 'shadow read by cat'));
  });

  test('engine-proxy --nats: decisions reach Central; NATS killed while it answers, then back: every decision stored exactly once', { skip: missing(existsSync(podmanSocket), `no podman socket at ${podmanSocket}`), timeout: 300_000 }, async () => {
    const dir = join(work, 'proxy');
    mkdirSync(dir);
    const pack = join(dir, 'no-info.yaml');
    writeFileSync(pack, DENY_INFO);
    const proxy = await startProxy(dir, ['--policy', pack, '--nats', nats.url]);
    const decisions = () => listAll<StoredEvent>(central.get, '/api/v1/decisions?source=engine-proxy');
    try {
      assert.equal(await dockerGet(proxy.socket, '/v1.41/info'), 403);
      assert.equal(await dockerGet(proxy.socket, '/_ping'), 200);
      assert.equal(await dockerGet(proxy.socket, '/v1.41/info'), 403);
      await waitFor('three decisions in Central through the bus', async () => (await decisions()).length === 3, 60_000, 250);
      const firstThree = await decisions();
      const denied = firstThree.filter((d) => d.data.decision === 'deny');
      assert.equal(denied.length, 2);
      assert.ok(denied.every((d) => d.rule === 'T-INFO' && d.data.action === 'system.info'));

      await nats.kill9();
      // The proxy keeps answering while the bus is gone; what it answered waits in its spool.
      for (let i = 0; i < 30; i++) assert.equal(await dockerGet(proxy.socket, i % 3 ? '/v1.41/info' : '/_ping'), i % 3 ? 403 : 200);
      await waitFor('the proxy noticing NATS is gone', () => /"level":"warn".*NATS/.test(proxy.stderr()), 60_000, 250);
      assert.ok(readdirSync(join(dir, 'spool')).some((f) => f.startsWith('seg-')), 'decisions wait in the spool');
      await nats.restart();
      for (let i = 0; i < 10; i++) assert.equal(await dockerGet(proxy.socket, '/v1.41/info'), 403);

      const audit = auditLines(proxy.audit);
      assert.equal(audit.length, 43, 'the audit log holds every decision');
      await waitFor('every decision in Central', async () => (await decisions()).length >= audit.length, 120_000, 250);
      const stored = await decisions();
      assert.equal(stored.length, audit.length, 'each decision stored exactly once');
      assert.equal(new Set(stored.map((d) => d.id)).size, stored.length);
      const key = (xs: { decision: unknown; path: unknown }[]) => xs.map((x) => `${String(x.decision)} ${String(x.path)}`).sort();
      assert.deepEqual(key(stored.map((d) => d.data as { decision: unknown; path: unknown })), key(audit));
      assert.ok(stored.every((d) => d.host !== null), 'stored under the proxy host');
    } finally {
      assert.equal(await proxy.stop(), 0, proxy.stderr());
    }
  });

  test('engine-proxy --nats stopped while NATS is down: it exits 0, the decisions it answered wait in its spool and a restart with NATS back delivers them once', { skip: missing(existsSync(podmanSocket), `no podman socket at ${podmanSocket}`), timeout: 300_000 }, async () => {
    const dir = join(work, 'proxy-restart');
    mkdirSync(dir);
    const pack = join(dir, 'no-info.yaml');
    writeFileSync(pack, DENY_INFO);
    // Counted by the host this run's decisions carry: the earlier test's are in Central too.
    const before = (await listAll<StoredEvent>(central.get, '/api/v1/decisions?source=engine-proxy')).length;
    await nats.stop();
    const first = await startProxy(dir, ['--policy', pack, '--nats', nats.url]);
    for (let i = 0; i < 7; i++) assert.equal(await dockerGet(first.socket, '/v1.41/info'), 403);
    assert.equal(await first.stop(), 0, first.stderr());
    assert.match(first.stderr(), /"msg":"7 events not yet in Central wait in .*spool for the next start"/);
    await nats.restart();
    const second = await startProxy(dir, ['--policy', pack, '--nats', nats.url]);
    try {
      await waitFor('the spooled decisions in Central', async () => (await listAll<StoredEvent>(central.get, '/api/v1/decisions?source=engine-proxy')).length >= before + 7, 120_000, 250);
      await waitFor('the bus drained', async () => /gatehouse_central_bus_consumer_pending(\{[^}]*\})? 0\b/.test((await central.get('/metrics')).text), 60_000, 250);
      const stored = await listAll<StoredEvent>(central.get, '/api/v1/decisions?source=engine-proxy');
      assert.equal(stored.length, before + 7, 'the 7 spooled decisions stored once');
      assert.equal(auditLines(second.audit).length, 7, 'the audit log holds the 7 decisions of the first run');
    } finally {
      assert.equal(await second.stop(), 0, second.stderr());
    }
  });

  test('admission serve --nats: denials reach Central under the cluster; NATS killed while it answers, then back: every denial stored exactly once', { timeout: 300_000 }, async () => {
    const dir = join(work, 'webhook');
    mkdirSync(dir);
    const hook = await startWebhook(dir, ['--cluster', 'bus-admission', '--nats', nats.url]);
    const decisions = () => listAll<StoredEvent>(central.get, '/api/v1/decisions?source=admission');
    try {
      const first = await hook.review(privilegedPodReview('web-0'));
      assert.equal(first.allowed, false);
      assert.match(first.status!.message, /pss-privileged/);
      await waitFor('the denial in Central through the bus', async () => (await decisions()).length === 1, 60_000, 250);
      const [d] = await decisions();
      assert.equal(d!.rule, 'pss-privileged');
      assert.equal(d!.cluster, 'bus-admission');
      assert.equal(d!.data.name, 'web-0');

      await nats.kill9();
      for (let i = 1; i <= 12; i++) assert.equal((await hook.review(privilegedPodReview(`web-${i}`))).allowed, false, 'the webhook keeps answering');
      await waitFor('the webhook noticing NATS is gone', () => /"level":"warn".*NATS/.test(hook.stderr()), 60_000, 250);
      await nats.restart();
      await waitFor('13 denials in Central', async () => (await decisions()).length >= 13, 120_000, 250);
      const stored = await decisions();
      assert.equal(stored.length, 13, 'each denial stored exactly once');
      assert.deepEqual(stored.map((x) => String(x.data.name)).sort(), Array.from({ length: 13 }, (_, i) => `web-${i}`).sort());
      assert.ok(stored.every((x) => x.cluster === 'bus-admission' && x.data.decision === 'deny'));
    } finally {
      await hook.close();
      assert.equal(await hook.stop(), 0, hook.stderr());
    }
  });
});
