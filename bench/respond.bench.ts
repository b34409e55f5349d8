/**
 * bench:respond — time from the moment an alert's event is seen to the moment the response
 * has taken effect on a real podman container, for `kill` and `isolate` on a plain host:
 *   event → rule engine (a Falco rule) → alert → runtime policy (AlertJudge) → Responder
 *   → host action (with a signed evidence bundle captured before the kill) → the podman
 *   service reports the container stopped / attached to no network.
 * Each run gets a fresh container (created outside the timed span, removed after); after
 * each timed run the state is checked again with the `podman` CLI. p50/p99 over --runs N
 * (default 200; --quick: 20). Series: kill with evidence (the goal), kill without evidence
 * (what the capture costs), isolate. Goals (issue 20): p99 ≤ 200 ms kill, ≤ 500 ms isolate,
 * including evidence capture.
 *
 *   npm run bench:respond [-- --runs N | --quick]
 * Needs podman's API socket (GATEHOUSE_PODMAN_SOCKET, default /run/podman/podman.sock) and
 * the test image localhost/gatehouse-ep-busybox:1 (bash .ci/setup).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicySet } from '../src/policy/evaluate.js';
import { readPackText } from '../src/policy/pack.js';
import { hostActionSet } from '../src/respond/action-sets.js';
import { MemoryAuditLog } from '../src/respond/audit.js';
import { EngineApi, type ContainerInspect } from '../src/respond/engine.js';
import { evidenceCapture } from '../src/respond/evidence-hook.js';
import { Responder, type Decision } from '../src/respond/responder.js';
import type { ActionResult } from '../src/respond/types.js';
import { AlertJudge } from '../src/runtime/alerts/verdict.js';
import type { Alert } from '../src/runtime/alerts/alert.js';
import { Engine, ruleSetFromText } from '../src/runtime/rules/index.js';
import type { RuntimeEvent } from '../src/runtime/event.js';
import { subjects } from '../src/subjects/index.js';

const SOCKET = process.env.GATEHOUSE_PODMAN_SOCKET ?? '/run/podman/podman.sock';
const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const quick = process.argv.includes('--quick');
const runsAt = process.argv.indexOf('--runs');
const RUNS = runsAt > 0 ? Number(process.argv[runsAt + 1]) : quick ? 20 : 200;
const GOALS = { kill: 200, isolate: 500 };

const RULES = `
- rule: Respond bench kill
  desc: a shell started in a container
  condition: evt.type = execve and evt.dir = < and container.id != host and proc.name = sh
  output: Shell in container (container.id=%container.id container.name=%container.name proc.pid=%proc.pid)
  priority: CRITICAL
- rule: Respond bench isolate
  desc: a container connected out
  condition: evt.type = connect and evt.dir = < and container.id != host
  output: Outbound connection (container.id=%container.id container.name=%container.name fd.name=%fd.name)
  priority: CRITICAL
`;
const PACK = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: runtime
policies:
  - id: bench-kill
    name: Kill on a shell
    description: bench
    severity: CRITICAL
    stages: [runtime]
    criteria: { all: [ { field: alert.rule, op: equals, value: Respond bench kill }, { field: container.id, op: notEquals, value: host } ] }
    enforcement: [kill]
  - id: bench-isolate
    name: Isolate on a connection
    description: bench
    severity: CRITICAL
    stages: [runtime]
    criteria: { all: [ { field: alert.rule, op: equals, value: Respond bench isolate }, { field: container.id, op: notEquals, value: host } ] }
    enforcement: [isolate]
`;

function podman(...args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main(): Promise<void> {
  if (!existsSync(SOCKET) || spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0) {
    console.error(`bench:respond needs podman's socket ${SOCKET} and the image ${IMAGE} (bash .ci/setup)`);
    process.exit(2);
  }
  const registry = subjects();
  const loaded = readPackText(PACK, 'bench-respond.yaml', registry);
  const judge = new AlertJudge(compilePolicySet(loaded.policies, registry, { exceptions: loaded.exceptions }));
  const rules = new Engine(ruleSetFromText([{ name: 'bench-respond-rules.yaml', text: RULES }]));
  const engine = new EngineApi(`unix://${SOCKET}`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-respond-'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const audit = new MemoryAuditLog();
  const evidence = evidenceCapture({ dir: join(dir, 'evidence'), host: `unix://${SOCKET}`, signingKey: privateKey });
  // Every run is a new container; the per-policy rate limit (100 an hour by default) would stop the series.
  const unlimited = { perPolicy: { max: 1_000_000, windowMs: 3_600_000 } };
  const withEvidence = new Responder({ actions: hostActionSet(engine), audit, component: 'sensor', evidence, ...unlimited });
  const bare = new Responder({ actions: hostActionSet(engine), audit, component: 'sensor', ...unlimited });
  const names: string[] = [];
  let seq = 0;

  // Every alert goes to the current series' responder; its decisions are kept for the run.
  let responder = withEvidence;
  let decisions: Decision[] = [];
  rules.onAlert((alert: Alert) => {
    decisions.push(...responder.respondTo(judge.judge(alert)));
  });

  const series = async (label: string, kind: 'kill' | 'isolate', r: Responder, n: number): Promise<number[]> => {
    responder = r;
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const name = `gh-bench-respond-${process.pid}-${++seq}`;
      names.push(name);
      podman('run', '-d', ...RUN_FLAGS, '--name', name, IMAGE, 'sh', '-c', 'sleep 600 & exec sleep 600');
      const c = await engine.inspect(name);
      const event: RuntimeEvent =
        kind === 'kill'
          ? { 'evt.type': 'execve', 'evt.dir': '<', 'container.id': c.Id.slice(0, 12), 'container.name': name, 'proc.name': 'sh', 'proc.pid': c.State.Pid, 'evt.rawtime': BigInt(Date.now()) * 1_000_000n }
          : { 'evt.type': 'connect', 'evt.dir': '<', 'container.id': c.Id.slice(0, 12), 'container.name': name, 'proc.name': 'sleep', 'fd.name': '10.88.0.5:40000->1.1.1.1:443', 'evt.rawtime': BigInt(Date.now()) * 1_000_000n };
      decisions = [];
      // The event is seen.
      const t0 = performance.now();
      rules.push(event);
      if (decisions.length !== 1 || decisions[0]!.kind !== 'acting') throw new Error(`${label}: expected one action, got ${JSON.stringify(decisions)}`);
      const result: ActionResult = await decisions[0]!.result;
      if (result.outcome !== 'done') throw new Error(`${label}: ${result.outcome}: ${result.detail}`);
      // Taken effect, as the podman service reports it.
      const after = (await engine.call('GET', `/containers/${c.Id}/json`)).body as ContainerInspect;
      const effective = kind === 'kill' ? !after.State.Running : Object.keys(after.NetworkSettings.Networks ?? {}).length === 0;
      const ms = performance.now() - t0;
      if (!effective) throw new Error(`${label}: the action did not take effect: ${JSON.stringify(after.State)}`);
      // And once more through the podman CLI (not timed).
      const cli = JSON.parse(podman('inspect', '--type', 'container', name))[0];
      if (kind === 'kill' ? cli.State.Running : Object.keys(cli.NetworkSettings.Networks ?? {}).length) throw new Error(`${label}: podman inspect disagrees`);
      if (kind === 'kill' && label.includes('evidence') && !result.evidence) throw new Error(`${label}: no evidence bundle`);
      times.push(ms);
      spawnSync('podman', ['rm', '-f', '-t', '0', name]);
    }
    return times;
  };

  console.log(`bench:respond${quick ? ' --quick' : ''}: ${RUNS} runs a series; podman ${podman('version', '--format', '{{.Server.Version}}')}; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  try {
    // A warm-up run of each (connections, JIT), not counted.
    await series('warm-up', 'kill', withEvidence, 1);
    await series('warm-up', 'isolate', bare, 1);
    const rows: [string, number[], number | undefined][] = [];
    rows.push(['kill + evidence (signed bundle)', await series('kill with evidence', 'kill', withEvidence, RUNS), GOALS.kill]);
    rows.push(['kill (no evidence)', await series('kill', 'kill', bare, RUNS), undefined]);
    rows.push(['isolate', await series('isolate', 'isolate', bare, RUNS), GOALS.isolate]);
    console.log('series                            runs     p50 ms   p99 ms   max ms   goal p99');
    for (const [label, t, goal] of rows) {
      const p99 = pct(t, 99);
      console.log(
        `${label.padEnd(32)} ${String(t.length).padStart(5)} ${pct(t, 50).toFixed(1).padStart(9)} ${p99.toFixed(1).padStart(8)} ${Math.max(...t).toFixed(1).padStart(8)}   ${goal ? `≤ ${goal} ms ${p99 <= goal ? 'met' : 'NOT met'}` : '-'}`,
      );
    }
    console.log(`load after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}; audit records: ${audit.records.length}`);
  } finally {
    for (const n of names) spawnSync('podman', ['rm', '-f', '-t', '0', n]);
    await engine.close();
    await evidence.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
