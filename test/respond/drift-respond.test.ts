/**
 * Drift answered by a policy, end to end on a real podman container: the detector's
 * verdict becomes a Falco JSON drift alert, a runtime policy over its rule name asks for
 * `kill`, the response engine (src/respond/responder.ts) captures a signed evidence bundle
 * (this module, through its evidence hook) before it kills the container. Checked through
 * podman: the container is dead; the bundle verifies with the key and shows the container
 * still running when it was taken, with the dropped binary's sha256.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { DriftDetector } from '../../src/respond/drift/detector.js';
import { DRIFT_EXEC_RULE, driftAlert } from '../../src/respond/drift/verdict.js';
import { EngineApi as EvidenceEngine } from '../../src/respond/evidence/engine.js';
import { verifyEvidence } from '../../src/respond/evidence/verify.js';
import { evidenceCapture } from '../../src/respond/evidence-hook.js';
import { EngineApi as ResponseEngine } from '../../src/respond/engine.js';
import { hostActionSet } from '../../src/respond/action-sets.js';
import { MemoryAuditLog } from '../../src/respond/audit.js';
import { Responder } from '../../src/respond/responder.js';
import { compilePolicySet } from '../../src/policy/evaluate.js';
import { readPackText } from '../../src/policy/pack.js';
import { subjects } from '../../src/subjects/index.js';
import { AlertJudge } from '../../src/runtime/alerts/verdict.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const HOST = `unix://${podmanSocket}`;
const RUN = ['run', '-d', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1024:1024'];
const podmanReady = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip = missing(podmanReady, `podman socket ${podmanSocket} and image ${IMAGE} (.ci/setup.d/20-podman.sh, 70-engine-proxy.sh)`);
const runId = Math.random().toString(36).slice(2, 8);

const PACK = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: runtime
policies:
  - id: kill-on-drift
    name: Kill a container that runs what its image does not hold
    description: drift answered with kill (the cattle model)
    severity: CRITICAL
    stages: [runtime]
    criteria:
      all:
        - { field: alert.rule, op: equals, value: "${DRIFT_EXEC_RULE}" }
    enforcement: [kill]
`;

function podman(args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('drift answered by a kill policy, evidence first', { skip, timeout: 300_000 }, () => {
  const name = `gh-drift-kill-${runId}`;
  const dir = mkdtempSync(join(tmpdir(), 'gh-drift-kill-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let id = '';
  let evidenceEngine: EvidenceEngine;
  let responseEngine: ResponseEngine;

  before(() => {
    id = podman([...RUN, '--name', name, IMAGE, 'sleep', '600']);
    podman(['exec', name, 'cp', '/bin/busybox', '/tmp/true']);
    evidenceEngine = new EvidenceEngine(HOST);
    responseEngine = new ResponseEngine(HOST);
  });

  after(async () => {
    spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
    await evidenceEngine?.close();
    await responseEngine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kills the drifted container after capturing a signed bundle that verifies', async () => {
    const detector = new DriftDetector({ engine: evidenceEngine });
    await detector.watch(name);
    const verdict = detector.check({
      'evt.type': 'execve',
      'evt.rawres': 0,
      'proc.exepath': '/tmp/true',
      'proc.cmdline': 'true',
      'proc.pid': 99999,
      'container.id': id.slice(0, 12),
    });
    assert.ok(verdict, 'the exec of the copied binary is drift');
    const registry = subjects();
    const loaded = readPackText(PACK, 'kill-on-drift.yaml', registry);
    const judged = new AlertJudge(compilePolicySet(loaded.policies, registry, { exceptions: loaded.exceptions })).judge(driftAlert(verdict, 'node-1'), verdict.event);
    assert.deepEqual(judged.alert.gatehouse, { decision: 'deny', enforcement: ['kill'], policies: ['kill-on-drift'] });

    const audit = new MemoryAuditLog();
    const responder = new Responder({
      actions: hostActionSet(responseEngine),
      audit,
      evidence: evidenceCapture({ dir: join(dir, 'evidence'), host: HOST, signingKey: privateKey }),
      requireEvidence: true,
      component: 'test',
    });
    const decisions = responder.respondTo(judged);
    assert.equal(decisions.length, 1);
    const d = decisions[0]!;
    assert.equal(d.kind, 'acting', JSON.stringify(d));
    const result = await (d as { result: Promise<{ outcome: string; evidence?: string; detail: string }> }).result;
    await responder.idle();
    assert.equal(result.outcome, 'done', result.detail);

    // the container is dead, as podman sees it
    assert.equal(podman(['inspect', '--format', '{{.State.Running}}', name]), 'false');
    // the bundle was taken before: it verifies, shows the container running, holds the dropped binary's hash
    assert.ok(result.evidence, 'the action result names its evidence');
    const v = await verifyEvidence(result.evidence, { publicKey });
    assert.deepEqual(v.problems, []);
    const inspect = JSON.parse(readFileSync(join(result.evidence, 'inspect.json'), 'utf8')) as { State: { Running: boolean } };
    assert.equal(inspect.State.Running, true);
    const changes = JSON.parse(readFileSync(join(result.evidence, 'changes.json'), 'utf8')) as { changes: Array<{ path: string; sha256?: string }> };
    assert.match(changes.changes.find((c) => c.path === '/tmp/true')?.sha256 ?? '', /^[0-9a-f]{64}$/);
    const events = JSON.parse(readFileSync(join(result.evidence, 'events.json'), 'utf8')) as unknown[];
    assert.ok(JSON.stringify(events).includes(DRIFT_EXEC_RULE), 'the triggering drift alert is in the bundle');
    assert.equal(v.manifest?.incident?.trigger, DRIFT_EXEC_RULE);
    // the audit record names the action, the policy's trigger and the bundle
    assert.deepEqual(audit.records.map((r) => [r.action, r.outcome, r.evidence]), [['kill', 'done', result.evidence]]);
    await detector.close();
  });
});
