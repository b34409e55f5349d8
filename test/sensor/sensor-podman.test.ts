/**
 * The sensor against the real kernel and real containers: `gatehouse sensor` (bpftrace)
 * with Falco's stable rules runs while podman (runc) containers perform the evtgen_suite
 * scenarios; each must raise its rule with the container's id, name and image, and a
 * benign container must raise nothing. Also checks the sensor's own events (exec, open,
 * connect) carry the right container and process fields.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing } from '../helpers/components.js';
import { BENIGN, SCENARIOS } from './scenarios.js';

const IMAGE = 'localhost/gatehouse-sensor-test:1';
const RULES = fileURLToPath(new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PODMAN_RUN = ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`) ||
  missing(existsSync(RULES), `Falco rules missing at ${RULES}`);

type Json = Record<string, unknown>;
interface Ran {
  name: string;
  id: string;
}

const runId = Math.random().toString(36).slice(2, 8);

function runContainer(name: string, cmd: string[], extra: string[] = []): Ran {
  const cname = `gh-sensor-${name}-${runId}`;
  const r = spawnSync('podman', [...PODMAN_RUN, ...extra, '--name', cname, IMAGE, ...cmd], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  const id = spawnSync('podman', ['inspect', '--format', '{{.Id}}', cname], { encoding: 'utf8' }).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/, `container ${cname} did not run: ${r.stderr}`);
  return { name: cname, id };
}

function readJsonl(path: string): Json[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
}

describe('sensor on real containers', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sensor-'));
  const alertsFile = join(dir, 'alerts.jsonl');
  const eventsFile = join(dir, 'events.jsonl');
  const ran = new Map<string, Ran>();
  let benign: Ran;
  let alerts: Json[] = [];
  let events: Json[] = [];
  let stderr = '';
  let exitCode: number | null = null;

  // The built-in runtime pack (all inform) plus a user override that opts one policy into kill.
  const override = join(dir, 'my-runtime.yaml');
  writeFileSync(override, 'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nsubject: runtime\npolicies:\n  - id: runtime-shell-in-container\n    enforcement: [kill]\n');

  before(async () => {
    const args = ['sensor', '--rules', RULES, '--opens', 'rules', '--output', alertsFile, '--events', eventsFile, '--exit-code', '1', '--policy', 'runtime', '--policy', override];
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' },
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sensor not ready after 300 s: ${stderr}`)), 300_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('sensor ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void closed.then((c) => reject(new Error(`sensor exited (${c}) before ready: ${stderr}`)));
    });
    benign = runContainer('benign', BENIGN);
    for (const s of SCENARIOS) ran.set(s.name, runContainer(s.name, s.cmd, s.podmanArgs));
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    exitCode = await closed;
    alerts = readJsonl(alertsFile);
    events = readJsonl(eventsFile);
  });

  after(() => {
    const names = [benign, ...ran.values()].filter(Boolean).map((r) => r.name);
    if (names.length) spawnSync('podman', ['rm', '-f', ...names], { stdio: 'ignore' });
    // GATEHOUSE_SENSOR_KEEP=1 keeps the alerts and events for a look after a failure
    if (!process.env.GATEHOUSE_SENSOR_KEEP) rmSync(dir, { recursive: true, force: true });
    else console.error(`# sensor output kept in ${dir}`);
  });

  it('stops cleanly with exit code 1 (rules alerted), and every drop it counted was reported as an alert', () => {
    assert.equal(exitCode, 1, stderr);
    const m = /sensor stopped: (\d+) events, (\d+) alerts, (\d+) dropped/.exec(stderr);
    assert.ok(m, stderr);
    assert.ok(Number(m[1]) > 1000, 'the sensor saw the host and the containers work');
    const dropAlerts = alerts.filter((a) => a.rule === 'Gatehouse sensor dropped events');
    const reported = dropAlerts.reduce((n, a) => n + Number((a.output_fields as Json)['sensor.drops']), 0);
    assert.equal(reported, Number(m[3]), 'drops counted = drops reported');
    assert.equal(alerts.length - dropAlerts.length, Number(m[2]), 'every rule alert reached the output file');
  });

  it('every alert carries its runtime policy verdict (gatehouse key)', () => {
    assert.ok(alerts.length > 0);
    for (const a of alerts) {
      const g = a.gatehouse as { decision: string; enforcement: string[]; policies: string[] } | undefined;
      assert.ok(g && ['allow', 'warn', 'deny'].includes(g.decision), `verdict on ${String(a.rule)}`);
    }
    const of = (name: string, rule: string) => alerts.find((a) => a.rule === rule && (a.output_fields as Json)['container.id'] === ran.get(name)!.id.slice(0, 12))?.gatehouse as Json | undefined;
    // Opted in by the override: a shell in a container is denied with kill.
    assert.deepEqual(of('terminal-shell', 'Terminal shell in container'), { decision: 'deny', enforcement: ['kill'], policies: ['runtime-shell-in-container'] });
    // Left at inform: reported (warn), no action.
    const drift = of('drop-exec', 'Drop and execute new binary in container');
    assert.equal(drift?.decision, 'warn');
    assert.deepEqual(drift?.enforcement, []);
    assert.ok((drift?.policies as string[]).includes('runtime-container-drift'));
    assert.ok((of('release-agent', 'Detect release_agent File Container Escapes')?.policies as string[]).includes('runtime-privilege-escalation'));
    assert.ok((of('read-shadow', 'Read sensitive file untrusted')?.policies as string[]).includes('runtime-sensitive-file-read'));
    // No policy covers PTRACE alerts: allowed.
    assert.deepEqual(of('ptrace-traceme', 'PTRACE anti-debug attempt'), { decision: 'allow', enforcement: [], policies: [] });
    assert.match(stderr, /policy verdicts: [1-9]\d* deny, [1-9]\d* warn, [1-9]\d* allow/);
  });

  it('a benign container fires no rule', () => {
    const mine = alerts.filter((a) => (a.output_fields as Json)['container.id'] === benign.id.slice(0, 12));
    assert.deepEqual(mine.map((a) => a.rule), []);
    // …while the sensor did see it work
    const execs = events.filter((e) => e['container.id'] === benign.id.slice(0, 12) && e['evt.type'] === 'execve');
    assert.ok(execs.some((e) => e['proc.name'] === 'ls'), 'the benign container\'s exec of ls was seen');
  });

  for (const s of SCENARIOS) {
    it(`${s.name}: "${s.rule}" (${s.suite})`, () => {
      const r = ran.get(s.name)!;
      const mine = alerts.filter((a) => (a.output_fields as Json)['container.id'] === r.id.slice(0, 12));
      const hit = mine.find((a) => a.rule === s.rule);
      assert.ok(hit, `no "${s.rule}" alert for ${r.name}; its alerts: ${JSON.stringify(mine.map((a) => a.rule))}`);
      const f = hit.output_fields as Json;
      assert.equal(f['container.name'], r.name);
      assert.equal(f['container.image'], IMAGE);
      assert.equal(f['container.image.repository'], 'localhost/gatehouse-sensor-test');
      assert.ok(typeof hit.output === 'string' && hit.output.includes(`container_id=${r.id.slice(0, 12)}`));
      const ev = events.filter((e) => e['container.id'] === r.id.slice(0, 12));
      for (const [k, v] of Object.entries(s.fields ?? {})) {
        const seen = k in f ? f[k] : undefined;
        if (seen !== undefined) assert.equal(seen, v, `${k} in the alert`);
        else assert.ok(ev.some((e) => e[k] === v), `an event of ${r.name} with ${k}=${JSON.stringify(v)}`);
      }
    });
  }

  it('exec events carry process, ancestry, user and container fields', () => {
    const r = ran.get('read-shadow')!;
    const cat = events.find((e) => e['container.id'] === r.id.slice(0, 12) && e['evt.type'] === 'execve' && e['proc.name'] === 'cat');
    assert.ok(cat, 'exec of cat seen');
    assert.equal(cat['proc.exepath'], '/bin/cat');
    assert.equal(cat['proc.exe'], '/bin/cat');
    assert.equal(cat['proc.args'], '/etc/shadow');
    assert.equal(cat['proc.pname'], 'sh');
    assert.equal(cat['proc.pcmdline'], 'sh -c /bin/cat /etc/shadow >/dev/null; cd /etc && /bin/sleep 0.5; /bin/true; cd /tmp && echo x > gh-relative && /bin/sleep 1');
    assert.equal(cat['proc.aname[1]'], 'sh');
    // cwd as the container sees it (read from /proc while the process lives)
    const sleep = events.find((e) => e['container.id'] === r.id.slice(0, 12) && e['evt.type'] === 'execve' && e['proc.name'] === 'sleep');
    assert.equal(sleep?.['proc.cwd'], '/etc/');
    // a relative path opened after the shell's own chdir resolves against the cwd it has then (read live while it runs), not the one at its exec
    const rel = events.find((e) => e['container.id'] === r.id.slice(0, 12) && e['proc.name'] === 'sh' && String(e['fd.name'] ?? '').endsWith('gh-relative'));
    assert.equal(rel?.['fd.name'], '/tmp/gh-relative', JSON.stringify(rel));
    assert.equal(cat['user.uid'], 0);
    assert.equal(cat['user.name'], 'root');
    assert.equal(cat['container.name'], r.name);
    assert.equal(cat['container.image'], IMAGE);
    assert.equal(cat['container.image.tag'], '1');
    assert.equal(cat['container.privileged'], false);
    assert.match(String(cat['thread.cap_effective']), /CAP_CHOWN/);
    assert.doesNotMatch(String(cat['thread.cap_effective']), /CAP_SYS_ADMIN/);
    const priv = events.find((e) => e['container.id'] === ran.get('release-agent')!.id.slice(0, 12) && e['evt.type'] === 'execve');
    assert.equal(priv?.['container.privileged'], true);
    assert.match(String(priv?.['thread.cap_effective']), /CAP_SYS_ADMIN/);
  });

  it('connect and accept events carry both ends of the connection', () => {
    const r = ran.get('netcat-exec')!;
    const mine = events.filter((e) => e['container.id'] === r.id.slice(0, 12));
    const conn = mine.find((e) => e['evt.type'] === 'connect' && e['fd.sport'] === 9999);
    assert.ok(conn, 'connect to 9999 seen');
    assert.equal(conn['fd.sip'], '127.0.0.1');
    assert.equal(conn['fd.typechar'], '4');
    assert.equal(conn['fd.l4proto'], 'tcp');
    assert.equal(conn['evt.res'], 'SUCCESS');
    assert.match(String(conn['fd.name']), /^127\.0\.0\.1:\d+->127\.0\.0\.1:9999$/);
    const acc = mine.find((e) => e['evt.type'] === 'accept' && e['fd.sport'] === 9999);
    assert.ok(acc, 'accept on 9999 seen');
    assert.equal(acc['fd.cport'], conn['fd.cport']);
  });
});
