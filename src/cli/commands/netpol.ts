/** `gatehouse netpol …`: network segmentation analysis and least-privilege policy generation. */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { addClusterOptions, loadObjects, type ClusterCliOptions } from '../cluster-options.js';
import { UserError } from '../../util/errors.js';
import { addReportOptions, writeOutput, writeReport, type ReportCliOptions } from '../report-options.js';
import {
  analyzeConnectivity,
  formatConnlist,
  generatePolicies,
  inferIntentFromEnv,
  LIVE_NETPOL_SOURCE,
  modelOf,
  parseFocusConn,
  parseIntentFile,
  policiesToYaml,
  unprotectedFindings,
  unprotectedWorkloads,
  verifyGenerated,
  type IntentConnection,
  type LoadedCluster,
} from '../../kube/netpol/index.js';
import type { LoadNote } from '../../kube/manifests.js';

const list = (v: string | undefined): string[] | undefined => v?.split(',').map((s) => s.trim()).filter(Boolean);

async function load(paths: string[], live: ClusterCliOptions = {}): Promise<LoadedCluster> {
  const loaded = modelOf(await loadObjects(paths, live, LIVE_NETPOL_SOURCE));
  const where = (n: LoadNote) => `${n.file}${n.line ? `:${n.line}` : ''}`;
  for (const n of loaded.notes) if (n.level !== 'error') process.stderr.write(`gatehouse: note: ${where(n)}: ${n.message}\n`);
  // As in `k8s check`: input that cannot be read (YAML syntax errors, YAML bombs) is exit 2,
  // one file:line line per problem; other YAML met in a directory is only noted above.
  const errors = loaded.notes.filter((n) => n.level === 'error');
  if (errors.length) {
    for (const n of errors.slice(1)) process.stderr.write(`gatehouse: error: ${where(n)}: ${n.message}\n`);
    throw new UserError(`error: ${where(errors[0]!)}: ${errors[0]!.message}`, 'bad-input');
  }
  return loaded;
}

export function registerNetpolCommands(program: Command): Command {
  const netpol = program.command('netpol').description('network segmentation: connectivity implied by network policies');

  const analyze = netpol
    .command('analyze')
    .description('allowed connections between workloads and IP ranges (np-guard connlist format), from manifests or a live cluster (--cluster)')
    .argument('[paths...]', 'manifest files or directories ("-" for stdin)')
    .option('--focus-workload <names>', 'only connections of these workloads (NAME or NS/NAME, comma-separated)')
    .option('--focus-workload-peer <names>', 'with --focus-workload: only connections with these peers')
    .addOption(new Option('--focus-direction <dir>', 'with --focus-workload: only its ingress or egress').choices(['ingress', 'egress']))
    .option('--focus-conn <proto-port>', 'only pairs that allow this port, e.g. tcp-80 (pairs printed without connections)')
    .option('--unprotected', 'report workloads without ingress or egress isolation as findings instead (sarif and junit apply here)');
  addReportOptions(analyze, { exitCode: 'with --unprotected when unprotected workloads remain' });
  addClusterOptions(analyze).action(
    async (paths: string[], o: ClusterCliOptions & ReportCliOptions & { focusWorkload?: string; focusWorkloadPeer?: string; focusDirection?: 'ingress' | 'egress'; focusConn?: string; unprotected?: boolean }) => {
      if (!o.unprotected && o.format !== 'table' && o.format !== 'json') {
        throw new UserError(`--format ${o.format} applies to --unprotected findings; connections print as table or json`, 'usage');
      }
      if (!o.unprotected && o.severity !== undefined) throw new UserError('--severity applies to --unprotected findings only', 'usage');
      if ((o.focusWorkloadPeer || o.focusDirection) && !o.focusWorkload) {
        throw new UserError('--focus-workload-peer and --focus-direction need --focus-workload');
      }
      const { model } = await load(paths, o);
      if (o.unprotected) {
        const found = unprotectedWorkloads(model);
        const { code } = await writeReport(unprotectedFindings(found), { command: 'netpol analyze --unprotected', notes: [`${model.workloads.filter((w) => !w.synthetic).length} workload(s) checked`] }, o);
        process.exitCode = code;
        return;
      }
      const conn = o.focusConn !== undefined ? parseFocusConn(o.focusConn) : undefined;
      const focus = { workloads: list(o.focusWorkload), peers: list(o.focusWorkloadPeer), direction: o.focusDirection, conn };
      if (focus.workloads?.length) {
        const known = new Set(model.workloads.flatMap((w) => [w.name, `${w.namespace}/${w.name}`]));
        const missing = focus.workloads.filter((n) => !known.has(n) && n !== 'ingress-controller');
        if (missing.length === focus.workloads.length) throw new UserError(`workload ${missing.join(', ')} does not exist in the input resources`);
      }
      await writeOutput(formatConnlist(analyzeConnectivity(model, focus), o.format === 'json' ? 'json' : 'txt', model, conn ? `${conn.protocol} ${conn.port}` : undefined), o);
    },
  );

  const generate = netpol
    .command('generate')
    .description('least-privilege NetworkPolicies (YAML on stdout) from declared intent, for manifests or a live cluster (--cluster)')
    .argument('[paths...]', 'manifest files or directories with the workloads ("-" for stdin)')
    .option('--intent <file>', 'explicit connectivity list: `connections: [{from, to, ports}]`')
    .option('--no-env', 'do not infer intent from service references in env and ConfigMaps');
  addClusterOptions(generate).action(async (paths: string[], o: ClusterCliOptions & { intent?: string; env: boolean }) => {
    const { model } = await load(paths, o);
    const intents: IntentConnection[] = [];
    if (o.intent) {
      let text: string;
      try {
        text = await readFile(o.intent, 'utf8');
      } catch (e) {
        throw new UserError(`cannot read intent file ${o.intent}: ${(e as Error).message.split('\n')[0]}`);
      }
      intents.push(...parseIntentFile(text, o.intent, model));
    }
    if (o.env) intents.push(...inferIntentFromEnv(model));
    if (intents.length === 0) process.stderr.write('gatehouse: note: no intent found: only default-deny policies are generated\n');
    const { policies, notes, assumptions } = generatePolicies(model, intents);
    for (const n of assumptions) process.stderr.write(`gatehouse: note: ${n}\n`);
    for (const n of notes) process.stderr.write(`gatehouse: warning: ${n}\n`);
    const mismatches = verifyGenerated(model, intents, policies);
    for (const m of mismatches.slice(0, 20)) {
      process.stderr.write(`gatehouse: warning: generated policies allow ${m.allowed} for ${m.src} => ${m.dst}, intent is ${m.intended}\n`);
    }
    process.stdout.write(policiesToYaml(policies));
    if (mismatches.length > 0) process.exitCode = 1;
  });

  return netpol;
}
