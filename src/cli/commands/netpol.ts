/** `gatehouse netpol …`: network segmentation analysis and least-privilege policy generation. */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { addClusterOptions, loadObjects, type ClusterCliOptions } from '../cluster-options.js';
import { UserError } from '../../util/errors.js';
import { addReportOptions, outputOption, writeOutput, writeReport, type ReportCliOptions } from '../report-options.js';
import { addCentralOptions, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { parseDuration } from '../../runtime/baseline/index.js';
import { generateFromObserved, type ObservedPolicyResult } from '../../network/observed-policy.js';
import { observedFromFlows, parseFlowLines, serviceIpsOf } from '../../network/observed-flows.js';
import { formatSimulation } from '../../network/observed-simulate.js';
import { authzFromAccessLogs, authzJson, selectorsFromModel } from '../../network/l7/index.js';
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
import type { LoadNote, LoadResult } from '../../kube/manifests.js';

const list = (v: string | undefined): string[] | undefined => v?.split(',').map((s) => s.trim()).filter(Boolean);

async function load(paths: string[], live: ClusterCliOptions = {}): Promise<LoadedCluster & { objects: LoadResult['objects'] }> {
  const result = await loadObjects(paths, live, LIVE_NETPOL_SOURCE);
  const loaded = { ...modelOf(result), objects: result.objects };
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
    .description('least-privilege NetworkPolicies (YAML on stdout) from declared intent, for manifests or a live cluster (--cluster); with --observed, from observed flows (Central, or a sensor flow file)')
    .argument('[paths...]', 'manifest files or directories with the workloads ("-" for stdin)')
    .option('--intent <file>', 'explicit connectivity list: `connections: [{from, to, ports}]`')
    .option('--no-env', 'do not infer intent from service references in env and ConfigMaps')
    .option('--observed', "from observed flows merged with the manifests' intent: Central's (--server) or a flow file (--flows)")
    .option('--flows <file>', 'with --observed: JSON lines of observed flows, as `gatehouse sensor --flows FILE` writes them (no Central)')
    .option('--since <duration>', 'with --observed: only flows seen in this window, e.g. 24h (default: all stored)')
    .option('--simulate', 'with --observed: print what the policies would cut off (YAML then only with --output)')
    .addOption(new Option('--learning <mode>', 'with --observed: workloads still in their baseline window stay open (default) or get the deny like the rest').choices(['open', 'enforce']))
    .option('--exclude <refs>', 'with --observed: leave out observed connections of these (NS/NAME, NS/NAME[Kind], address or CIDR; comma-separated)')
    .option('--keep-existing', 'with --observed: simulate adding the policies to the existing ones (default: replacing those of the same namespaces)')
    .option('--namespace <ns>', 'with --observed: policies for this namespace only')
    .option('--central-cluster <name>', "with --observed and --server: Central's cluster (default: the only one)")
    .addOption(new Option('--format <format>', 'with --observed: yaml (the policies) or json (policies, simulation, learning marks, notes)').choices(['yaml', 'json']))
    .addOption(outputOption('policies'));
  addCentralOptions(generate);
  addClusterOptions(generate).action(async (paths: string[], o: GenerateCliOptions) => {
    if (o.observed) return generateObserved(paths, o);
    const observedOnly = (['flows', 'since', 'simulate', 'learning', 'exclude', 'keepExisting', 'namespace', 'centralCluster', 'format'] as const).filter((k) => o[k] !== undefined);
    if (observedOnly.length) throw new UserError(`--${observedOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies with --observed only`, 'usage');
    const { model } = await load(paths, o);
    const intents = await manifestIntents(model, o);
    if (intents.length === 0) process.stderr.write('gatehouse: note: no intent found: only default-deny policies are generated\n');
    const { policies, notes, assumptions } = generatePolicies(model, intents);
    for (const n of assumptions) process.stderr.write(`gatehouse: note: ${n}\n`);
    for (const n of notes) process.stderr.write(`gatehouse: warning: ${n}\n`);
    const mismatches = verifyGenerated(model, intents, policies);
    for (const m of mismatches.slice(0, 20)) {
      process.stderr.write(`gatehouse: warning: generated policies allow ${m.allowed} for ${m.src} => ${m.dst}, intent is ${m.intended}\n`);
    }
    await writeOutput(policiesToYaml(policies), o);
    if (mismatches.length > 0) process.exitCode = 1;
  });

  const authz = netpol
    .command('authz')
    .description('Istio AuthorizationPolicy suggestions (security.istio.io/v1) from HTTP access logs: Envoy JSON access logs or the test web app\'s log')
    .argument('[paths...]', 'manifests (optional): destinations resolved to their Service selector or pod labels')
    .requiredOption('--access-log <file>', 'access log file (Envoy JSON lines, or Python http.server common log lines); repeatable', collect)
    .option('--destination <ns/name>', 'the workload the app log was written by (common log lines name no destination)')
    .addOption(new Option('--source <by>', 'callers as SPIFFE principals, or widened to their namespaces').choices(['principal', 'namespace']).default('principal'))
    .addOption(new Option('--format <format>', 'yaml (the policies) or json (policies, observed calls, counts)').choices(['yaml', 'json']).default('yaml'))
    .addOption(outputOption('policies'));
  authz.action(async (paths: string[], o: { accessLog: string[]; destination?: string; source: 'principal' | 'namespace'; format: 'yaml' | 'json'; output?: string }) => {
    const texts: { file: string; text: string }[] = [];
    for (const file of o.accessLog) {
      try {
        texts.push({ file, text: await readFile(file, 'utf8') });
      } catch (e) {
        throw new UserError(`cannot read access log ${file}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    const selectorOf = paths.length ? selectorsFromModel((await load(paths)).model) : undefined;
    const result = authzFromAccessLogs(texts, { destination: o.destination, source: o.source, selectorOf });
    for (const n of result.notes) process.stderr.write(`gatehouse: note: ${n}\n`);
    if (result.malformed > 0) process.stderr.write(`gatehouse: warning: ${result.malformed} access log line(s) could not be read (first: ${result.malformedSamples[0]})\n`);
    await writeOutput(o.format === 'json' ? `${JSON.stringify(authzJson(result), null, 2)}\n` : result.yaml, o);
  });

  return netpol;
}

interface GenerateCliOptions extends ClusterCliOptions, CentralCliOptions {
  intent?: string;
  env: boolean;
  observed?: boolean;
  flows?: string;
  since?: string;
  simulate?: boolean;
  learning?: 'open' | 'enforce';
  exclude?: string;
  keepExisting?: boolean;
  namespace?: string;
  centralCluster?: string;
  format?: 'yaml' | 'json';
  output?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function readIntentText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read intent file ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

async function manifestIntents(model: LoadedCluster['model'], o: { intent?: string; env: boolean }): Promise<IntentConnection[]> {
  const intents: IntentConnection[] = [];
  if (o.intent) intents.push(...parseIntentFile(await readIntentText(o.intent), o.intent, model));
  if (o.env) intents.push(...inferIntentFromEnv(model));
  return intents;
}

/** The JSON document of --observed --format json (and of Central's API). */
type ObservedJson = Pick<ObservedPolicyResult, 'yaml' | 'policies' | 'simulation' | 'learning' | 'unobserved' | 'notes' | 'assumptions' | 'intents'>;

async function generateObserved(paths: string[], o: GenerateCliOptions): Promise<void> {
  const since = o.since === undefined ? undefined : parseDuration(o.since, '--since');
  const exclude = list(o.exclude);
  let doc: ObservedJson;
  if (o.flows) {
    if (o.centralCluster) throw new UserError('--central-cluster applies with --server, not --flows', 'usage');
    const { model, objects } = await load(paths, o);
    let text: string;
    try {
      text = await readFile(o.flows, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read flow file ${o.flows}: ${(e as Error).message.split('\n')[0]}`);
    }
    const parsed = parseFlowLines(text);
    if (parsed.malformed.length) {
      const m = parsed.malformed[0]!;
      process.stderr.write(`gatehouse: warning: ${parsed.malformed.length} line(s) of ${o.flows} are not observed flows (first: line ${m.line}: ${m.reason})\n`);
    }
    if (parsed.flows.length === 0) throw new UserError(`${o.flows} holds no observed flow${parsed.malformed.length ? ` (${parsed.malformed.length} unreadable line(s))` : ''}`, 'bad-input');
    const fromFlows = observedFromFlows(parsed.flows, model, { since: since === undefined ? undefined : Date.now() - since, serviceIps: serviceIpsOf(objects) });
    for (const n of fromFlows.notes) process.stderr.write(`gatehouse: note: ${n}\n`);
    const intents = await manifestIntents(model, o);
    doc = generateFromObserved(model, { edges: fromFlows.edges }, { intents, learning: o.learning, namespace: o.namespace, exclude, keepExisting: o.keepExisting });
  } else {
    if (paths.length || o.cluster) throw new UserError('with --observed and Central, the manifests are the ones Central stores: give no paths (or use --flows FILE with paths)', 'usage');
    const client = requireCentralClient(o);
    try {
      let intent: string | undefined;
      if (o.intent) intent = await readIntentText(o.intent);
      doc = await client.post<ObservedJson>('/api/v1/network/policies/generate', {
        ...(o.since !== undefined ? { since: o.since } : {}),
        ...(o.centralCluster ? { cluster: o.centralCluster } : {}),
        ...(o.namespace ? { namespace: o.namespace } : {}),
        ...(o.learning ? { learning: o.learning } : {}),
        ...(exclude?.length ? { exclude } : {}),
        ...(o.keepExisting ? { keepExisting: true } : {}),
        ...(intent !== undefined ? { intent } : {}),
        ...(o.env === false ? { env: false } : {}),
      });
    } finally {
      await client.close();
    }
  }
  for (const n of doc.assumptions) process.stderr.write(`gatehouse: note: ${n}\n`);
  for (const n of doc.notes) process.stderr.write(`gatehouse: note: ${n}\n`);
  for (const l of doc.learning) process.stderr.write(`gatehouse: note: ${l.workload} is still in its baseline window${l.openPolicy ? ` (kept open by ${l.openPolicy})` : ''}\n`);
  const denied = doc.simulation.cutObserved.filter((c) => c.reason === 'denied');
  for (const c of denied.slice(0, 20)) process.stderr.write(`gatehouse: warning: observed ${c.src} => ${c.dst} : ${c.connections} would be denied by the generated policies\n`);
  const body = o.format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : doc.yaml;
  if (o.simulate) {
    if (o.output) await writeOutput(body, o);
    process.stdout.write(formatSimulation(doc.simulation));
  } else {
    await writeOutput(body, o);
  }
  if (denied.length > 0) process.exitCode = 1;
}
