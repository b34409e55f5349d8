/**
 * Where the sensor's time goes, from a V8 CPU profile (`node --cpu-prof`, e.g. bench:runtime
 * with BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir DIR"): each sample's self time is charged
 * to the first frame, walking from the leaf towards the root, that belongs to a stage of the
 * hot path (so JSON.parse under the record reader is parsing, readlink under the process
 * table is /proc lookups). Prints a table per stage: share of the sensor's busy time and µs
 * per event (and per alert), given the run's totals.
 *
 *   node --import tsx bench/runtime-profile.ts FILE.cpuprofile EVENTS ALERTS [--last SECONDS]
 *
 * --last S keeps only the samples of the profile's last S seconds (one phase of a run, e.g.
 * the filtered mix before the sensor stopped; also leaves out the start-up).
 */
import { readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Stages, tested in this order on each frame from the leaf up. */
const STAGES: Array<[string, (f: Frame) => boolean]> = [
  ['start-up (module loading, compilation)', (f) => /\/esm\/|\/cjs\/|tsx\/dist|bootstrap\/|source_map/.test(f.url)],
  ['bpftrace output: reading and record parsing', (f) => /sensor\/(records|bpftrace)\.ts/.test(f.url) || f.functionName === 'onStreamRead'],
  ['process table and /proc lookups', (f) => /sensor\/process-table\.ts/.test(f.url) || f.functionName === 'procCwd' || f.functionName === 'resolvePath'],
  ['container attribution', (f) => /sensor\/containers\.ts/.test(f.url)],
  ['event building', (f) => /sensor\/(event-builder|names)\.ts/.test(f.url)],
  ['ordering and queue', (f) => /sensor\/(reorder|queue)\.ts/.test(f.url)],
  ['flows', (f) => /sensor\/flows\//.test(f.url)],
  ['metrics', (f) => /sensor\/metrics\.ts|util\/metrics\.ts/.test(f.url)],
  ['output formatting (alert, output text, container fields)', (f) => /runtime\/alerts\/alert\.ts/.test(f.url) || f.functionName === 'withContainer'],
  ['sinks', (f) => /runtime\/alerts\/sinks\.ts|node:internal\/fs\/streams|stream_base_commons|writeBuffer/.test(f.url + f.functionName)],
  ['rule evaluation', (f) => /runtime\/rules\//.test(f.url) || /^(bucketFirst|bucketAll|rule)$/.test(f.functionName)],
  ['sensor loop (sensor.ts, run.ts)', (f) => /sensor\/(sensor|run)\.ts/.test(f.url)],
];

export function profileTable(file: string, events: number, alerts: number, lastSeconds?: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  if (lastSeconds !== undefined) {
    const total = p.timeDeltas.reduce((a, b) => a + b, 0);
    let t = 0;
    const keep = p.timeDeltas.map((d) => (t += d) >= total - lastSeconds * 1e6);
    p.samples = p.samples.filter((_, i) => keep[i]);
    p.timeDeltas = p.timeDeltas.filter((_, i) => keep[i]);
  }
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = stageOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!.callFrame;
    let stage: string;
    if (leaf.functionName === '(idle)') stage = 'idle';
    else if (leaf.functionName === '(garbage collector)') stage = 'garbage collector';
    else {
      stage = 'other (node internals, timers)';
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        const hit = STAGES.find(([, test]) => test(f));
        if (hit) {
          stage = hit[0];
          break;
        }
      }
    }
    stageOf.set(id, stage);
    return stage;
  };
  const us = new Map<string, number>();
  p.samples.forEach((s, i) => {
    const st = classify(s);
    us.set(st, (us.get(st) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const busy = [...us].filter(([k]) => k !== 'idle' && !k.startsWith('start-up')).reduce((a, [, v]) => a + v, 0);
  const rows = [...us].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]);
  const out = [`| stage | CPU ms | share of busy (excl. start-up) | µs per event (${events}) | µs per alert (${alerts}) |`, '|---|---:|---:|---:|---:|'];
  for (const [k, v] of rows) {
    const startup = k.startsWith('start-up');
    out.push(`| ${k} | ${(v / 1000).toFixed(0)} | ${startup ? '–' : `${((v / busy) * 100).toFixed(1)}%`} | ${startup ? '–' : (v / events).toFixed(2)} | ${startup ? '–' : (v / Math.max(alerts, 1)).toFixed(0)} |`);
  }
  out.push(`| **total busy (excl. start-up)** | ${(busy / 1000).toFixed(0)} | 100% | ${(busy / events).toFixed(2)} | ${(busy / Math.max(alerts, 1)).toFixed(0)} |`);
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--last');
  const last = at >= 0 ? Number(args.splice(at, 2)[1]) : undefined;
  const [file, events, alerts] = args;
  if (!file || !events || (last !== undefined && !(last > 0))) {
    console.error('usage: runtime-profile.ts FILE.cpuprofile EVENTS [ALERTS] [--last SECONDS]');
    process.exit(2);
  }
  console.log(profileTable(file, Number(events), Number(alerts ?? 0), last));
}
