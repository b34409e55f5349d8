/**
 * Cuts a corpus recording (record.sh) into the fixture files:
 *   benign-learn.jsonl.gz, benign-test.jsonl.gz — every event of the workload pods in each phase;
 *   attacks/<name>.jsonl.gz — the events of the scenario's pod during its window;
 *   manifest.json — workloads, phases, scenarios (class, ATT&CK technique, pod, event counts).
 * Events of the load client, the attacker and the host are left out. The recording's own
 * labels that only the script knows (gatehouse.corpus/*) are removed: the engines find the
 * workload from the pod labels as CRI sets them. Event values that are empty are dropped.
 * Usage: node --import tsx scripts/corpus/split.ts EVENTS.jsonl LABELS.jsonl OUT_DIR
 */
import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';

interface Label {
  kind: 'phase' | 'container' | 'scenario';
  phase?: string;
  start?: number;
  end?: number;
  name?: string;
  pod?: string;
  namespace?: string;
  container?: string;
  ownerKind?: string;
  owner?: string;
  class?: string;
  technique?: string;
}

const [eventsPath, labelsPath, out] = process.argv.slice(2);
if (!eventsPath || !labelsPath || !out) {
  console.error('usage: split.ts EVENTS.jsonl LABELS.jsonl OUT_DIR');
  process.exit(2);
}
const labels = readFileSync(labelsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Label);
const phases = labels.filter((l) => l.kind === 'phase');
const pods = new Map(labels.filter((l) => l.kind === 'container').map((l) => [l.name!, l]));
const scenarios = labels.filter((l) => l.kind === 'scenario');
const phaseAt = (t: number): string | undefined => {
  let p: string | undefined;
  for (const ph of phases) if (t >= ph.start!) p = ph.phase;
  return p;
};

const lines: Record<string, string[]> = { 'benign-learn': [], 'benign-test': [] };
for (const s of scenarios) lines[`attacks/${s.name}`] = [];
const podEvents = new Map<string, number>();

const rl = createInterface({ input: createReadStream(eventsPath), crlfDelay: Infinity });
for await (const line of rl) {
  if (!line) continue;
  const ev = JSON.parse(line) as Record<string, unknown>;
  const name = String(ev['container.name'] ?? '');
  if (!pods.has(name)) continue;
  const t = Number(ev['evt.rawtime']);
  const compact: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ev)) {
    // indexed ancestry keys repeat the arrays (proc.aname[2] = proc.aname's element 1): left out
    if (v === null || v === '' || k.startsWith('container.label[gatehouse.corpus/') || /\[\d+\]$/.test(k)) continue;
    compact[k] = v;
  }
  const text = JSON.stringify(compact);
  const phase = phaseAt(t);
  if (phase === 'learn' || phase === 'test') {
    lines[`benign-${phase}`]!.push(text);
    podEvents.set(`${phase}:${name}`, (podEvents.get(`${phase}:${name}`) ?? 0) + 1);
  } else if (phase === 'attacks') {
    for (const s of scenarios) if (s.container === name && t >= s.start! && t <= s.end!) lines[`attacks/${s.name}`]!.push(text);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'attacks'), { recursive: true });
const counts: Record<string, number> = {};
for (const [file, ls] of Object.entries(lines)) {
  counts[file] = ls.length;
  writeFileSync(join(out, `${file}.jsonl.gz`), gzipSync(ls.length ? `${ls.join('\n')}\n` : '', { level: 9 }));
}
const at = (p: string) => phases.find((x) => x.phase === p)?.start ?? 0;
const manifest = {
  description: 'Gatehouse anomaly corpus (issue 19): recorded by scripts/corpus/record.sh with the real sensor',
  recorded: new Date(at('learn') / 1e6).toISOString(),
  phases: {
    learn: { start: at('learn'), end: at('test'), seconds: (at('test') - at('learn')) / 1e9, events: counts['benign-learn'] },
    test: { start: at('test'), end: at('attacks'), seconds: (at('attacks') - at('test')) / 1e9, events: counts['benign-test'] },
  },
  pods: [...pods.values()].map((p) => ({
    name: p.name, pod: p.pod, namespace: p.namespace, container: p.container, ownerKind: p.ownerKind, owner: p.owner,
    learnEvents: podEvents.get(`learn:${p.name}`) ?? 0, testEvents: podEvents.get(`test:${p.name}`) ?? 0,
  })),
  scenarios: scenarios.map((s) => ({ name: s.name, class: s.class, technique: s.technique, container: s.container, file: `attacks/${s.name}.jsonl.gz`, events: counts[`attacks/${s.name}`] })),
};
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(JSON.stringify(counts));
