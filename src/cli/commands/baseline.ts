/**
 * `gatehouse baseline list|show|lock|unlock|accept`: the behavioural baselines a sensor keeps
 * with `--baseline-dir DIR` (src/runtime/baseline/), or those Central keeps merged over every
 * sensor with `--server URL --token T` (or GATEHOUSE_SERVER/GATEHOUSE_TOKEN;
 * docs/notes/baseline-central.md). Same commands and formats on both.
 */
import { Option, type Command } from 'commander';
import { BaselineStore, normaliseWorkloadArg, type Baseline } from '../../runtime/baseline/index.js';
import { AnomalyDetector } from '../../runtime/anomaly/index.js';
import { renderGrid } from '../../report/index.js';
import { UserError } from '../../util/errors.js';
import { writeOutput } from '../report-options.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { centralBaselineCommands } from './baseline-central.js';

interface BaselineCliOptions extends CentralCliOptions {
  baselineDir?: string;
  format: 'table' | 'json';
  output?: string;
  cluster: string;
}

function storeOf(o: BaselineCliOptions): BaselineStore {
  if (!o.baselineDir) throw new UserError('give --baseline-dir DIR (the directory `gatehouse sensor --baseline-dir` writes) or --server URL (Central\'s baselines)', 'usage');
  return new BaselineStore(o.baselineDir);
}

/** Central's baselines when --server (or GATEHOUSE_SERVER without --baseline-dir) is given; undefined for the local directory. */
function centralOf(o: BaselineCliOptions) {
  if (o.baselineDir) {
    if (o.server) throw new UserError('give --baseline-dir DIR (local baselines) or --server URL (Central\'s), not both', 'usage');
    return undefined;
  }
  const client = centralClientFrom(o);
  return client ? centralBaselineCommands(client) : undefined;
}

function common(cmd: Command, formats = true): Command {
  cmd.option('--baseline-dir <dir>', 'directory of baseline files (as written by `gatehouse sensor --baseline-dir`)');
  cmd.option('--cluster <name>', 'cluster of a short WORKLOAD (namespace/Kind/name/container)', 'default');
  if (formats) cmd.addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'));
  cmd.option('-o, --output <file>', 'write to this file instead of stdout');
  return addCentralOptions(cmd);
}

/** The specific items of a baseline (keys nothing more specific was counted under). */
function items(b: Baseline): Array<{ channel: string; item: string; count: number }> {
  const out: Array<{ channel: string; item: string; count: number }> = [];
  for (const [ch, cc] of b.channels) for (const [k, v] of cc.c) if (!cc.t.has(k)) out.push({ channel: ch, item: k, count: v });
  return out.sort((a, b2) => a.channel.localeCompare(b2.channel) || b2.count - a.count);
}

function summary(b: Baseline): string[] {
  const w = b.workload;
  return [
    `workload:  ${w.id}`,
    `state:     ${b.state}${b.lockedAt ? ` (locked ${b.lockedAt})` : ` (${Math.round(b.progress() * 100)}% of a ${b.learnMs / 1000}s observation window)`}`,
    `events:    ${b.events}; replicas seen: ${b.replicas.length}`,
    `threshold: ${b.calibration.threshold !== undefined ? `${b.calibration.threshold} bits (target ${((b.calibration.targetPerHour ?? 0) * 24).toFixed(2)} false positives/day)` : 'set when it locks'}`,
  ];
}

export function registerBaselineCommands(program: Command): void {
  const baseline = program.command('baseline').description('behavioural baselines of workloads (learned by `gatehouse sensor --baseline-dir DIR`): show, lock, unlock, accept deviations');

  common(baseline.command('list').description('the workloads that have a baseline in --baseline-dir, or in Central (--server)')).action(async (o: BaselineCliOptions) => {
    const central = centralOf(o);
    if (central) return writeOutput(await central.list(o.format), o);
    const store = storeOf(o);
    const rows = store.list();
    if (o.format === 'json') return writeOutput(`${JSON.stringify(rows, null, 2)}\n`, o);
    const text = rows.length ? renderGrid(['WORKLOAD', 'STATE', 'EVENTS', 'FILE / ERROR'], rows.map((r) => [r.id ?? '-', r.state ?? 'corrupt', String(r.events ?? ''), r.error ?? r.file])) : `no baselines in ${store.dir}`;
    await writeOutput(`${text}\n`, o);
  });

  common(baseline.command('show').description('a workload\'s baseline: state, learned items per channel, deviations seen since it locked').argument('<workload>', 'workload id (k8s:CLUSTER/NS/KIND/NAME/CONTAINER or host:HOST/IMAGE/CONTAINER) or NS/KIND/NAME/CONTAINER')).action(
    async (workload: string, o: BaselineCliOptions) => {
      const central = centralOf(o);
      if (central) return writeOutput(await central.show(normaliseWorkloadArg(workload, o.cluster), o.format), o);
      const b = storeOf(o).require(normaliseWorkloadArg(workload, o.cluster));
      if (o.format === 'json') return writeOutput(`${JSON.stringify(b.toJSON(), null, 2)}\n`, o);
      const its = items(b);
      const devs = [...b.deviations.entries()].sort((x, y) => y[1].score - x[1].score);
      const lines = [
        ...summary(b),
        '',
        its.length ? renderGrid(['CHANNEL', 'ITEM', 'COUNT'], its.map((i) => [i.channel, i.item, String(i.count)]), { maxWidth: 100 }) : 'no items learned',
        '',
        devs.length
          ? renderGrid(['DEVIATION (accept with: baseline accept WORKLOAD ITEM)', 'SCORE', 'COUNT', 'REPLICAS', 'LAST SEEN'], devs.map(([k, d]) => [k, d.score.toFixed(1), String(d.count), String(d.containers.length), d.lastSeen]), { maxWidth: 100 })
          : 'no deviations',
      ];
      await writeOutput(`${lines.join('\n')}\n`, o);
    },
  );

  common(baseline.command('lock').description('end the observation window now: the baseline raises deviation alerts from here on').argument('<workload>'), false).action(async (workload: string, o: BaselineCliOptions) => {
    const central = centralOf(o);
    if (central) return writeOutput(await central.lock(normaliseWorkloadArg(workload, o.cluster)), o);
    const store = storeOf(o);
    const b = store.require(normaliseWorkloadArg(workload, o.cluster));
    if (b.locked) return writeOutput(`${b.workload.id} is already locked (${b.lockedAt})\n`, o);
    new AnomalyDetector({ learnMs: b.learnMs }).lock(b, new Date());
    store.save(b);
    await writeOutput(`locked ${b.workload.id} (${b.events} events learned; threshold ${b.calibration.threshold} bits)\n`, o);
  });

  common(baseline.command('unlock').description('start a new observation window: the baseline learns again and raises nothing').argument('<workload>'), false).action(async (workload: string, o: BaselineCliOptions) => {
    const central = centralOf(o);
    if (central) return writeOutput(await central.unlock(normaliseWorkloadArg(workload, o.cluster)), o);
    const store = storeOf(o);
    const b = store.require(normaliseWorkloadArg(workload, o.cluster));
    b.unlock();
    store.save(b);
    await writeOutput(`unlocked ${b.workload.id}: learning for ${b.learnMs / 1000}s of activity\n`, o);
  });

  common(
    baseline
      .command('accept')
      .description('add observed deviations to the baseline (all of them, or ITEM as `baseline show` lists it)')
      .argument('<workload>')
      .argument('[item]', 'a deviation, e.g. "exec:/usr/bin/curl [-s URL(http)] parent=/bin/sh user=root"'),
    false,
  ).action(async (workload: string, item: string | undefined, o: BaselineCliOptions) => {
    const central = centralOf(o);
    if (central) return writeOutput(await central.accept(normaliseWorkloadArg(workload, o.cluster), item), o);
    const store = storeOf(o);
    const b = store.require(normaliseWorkloadArg(workload, o.cluster));
    const wanted = item === undefined ? [...b.deviations.keys()] : [item];
    if (!wanted.length) return writeOutput(`${b.workload.id} has no deviations to accept\n`, o);
    for (const k of wanted) {
      if (!b.accept(k)) {
        const known = [...b.deviations.keys()];
        throw new UserError(`'${k}' is not a deviation of ${b.workload.id}${known.length ? `; deviations: ${known.slice(0, 5).map((x) => JSON.stringify(x)).join(', ')}${known.length > 5 ? ', …' : ''}` : ' (it has none)'}`, 'unknown-item');
      }
    }
    store.save(b);
    await writeOutput(`accepted ${wanted.length} deviation(s) into ${b.workload.id}\n`, o);
  });
}
