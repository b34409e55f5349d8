/** `gatehouse rbac …`: risky RBAC permissions per subject, and who-can queries, over manifests. */
import type { Command } from 'commander';
import { RBAC_KINDS } from '../../kube/cluster.js';
import { addClusterOptions, loadObjects, type ClusterCliOptions } from '../cluster-options.js';
import { analyzeRbac, whoCan } from '../../kube/rbac/analyze.js';
import { loadRbacRisks } from '../../kube/rbac/risks.js';
import { formatNames, getFormatter } from '../../report/index.js';
import { gate } from '../../report/gate.js';
import { UserError } from '../../util/errors.js';
import { EXIT_ERROR } from '../fail.js';

export function registerRbacCommands(program: Command): void {
  const rbac = program.command('rbac').description('RBAC risk analysis over Roles, ClusterRoles and bindings');
  const analyze = rbac
    .command('analyze')
    .description('flag risky permissions per subject with the path subject → binding → role → rule')
    .argument('[paths...]', 'manifest files or directories; - reads stdin (e.g. kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A -o yaml)')
    .option('-o, --output <format>', `output format: ${formatNames().join(', ')}`, 'table')
    .option('--severity <levels>', 'report findings at or above this severity (or a comma list)')
    .option('--exit-code <n>', 'exit code when findings remain', '1');
  addClusterOptions(analyze).action(async (paths: string[], o: ClusterCliOptions & { output: string; severity?: string; exitCode: string }) => {
    const formatter = getFormatter(o.output);
    const { objects, notes } = await loadObjects(paths, o, { kinds: RBAC_KINDS });
    const result = analyzeRbac(objects, await loadRbacRisks());
    const { shown, code } = gate(result.findings, o.severity, o.exitCode);
    for (const n of notes) if (n.level === 'error' || o.cluster) process.stderr.write(`gatehouse: ${n.level}: ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}\n`);
    for (const n of result.notes) process.stderr.write(`gatehouse: note: ${n}\n`);
    process.stdout.write(formatter.format(shown, { command: 'rbac analyze', notes: [`${result.subjects} subject(s)`], extra: { subjects: result.subjects, notes: result.notes } }));
    process.exitCode = notes.some((n) => n.level === 'error') ? EXIT_ERROR : code;
  });
  const whoCanCmd = rbac
    .command('who-can')
    .description('list the subjects that can VERB RESOURCE, with the granting path')
    .argument('<verb>', 'get, list, create, … (or *)')
    .argument('<resource>', 'pods, pods/exec, deployments.apps, …')
    .argument('[paths...]', 'manifest files or directories; - reads stdin')
    .option('-n, --namespace <ns>', 'only grants that apply in this namespace')
    .option('--name <name>', 'a specific object name (honours resourceNames)')
    .option('-o, --output <format>', 'table or json', 'table');
  addClusterOptions(whoCanCmd).action(async (verb: string, resource: string, paths: string[], o: ClusterCliOptions & { namespace?: string; name?: string; output: string }) => {
    if (o.output !== 'table' && o.output !== 'json') throw new UserError(`unknown output format "${o.output}" (expected table, json)`, 'bad-option');
    const { objects, notes } = await loadObjects(paths, o, { kinds: RBAC_KINDS });
    for (const n of notes) if (n.level === 'error' || o.cluster) process.stderr.write(`gatehouse: ${n.level}: ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}\n`);
    const answers = whoCan(objects, verb, resource, { namespace: o.namespace, name: o.name });
    if (o.output === 'json') {
      process.stdout.write(`${JSON.stringify({ verb, resource, namespace: o.namespace, subjects: answers }, null, 2)}\n`);
    } else {
      const rows = answers.map((a) => [a.subject, a.scope, a.path, a.file ? `${a.file}:${a.line}` : '(cluster)']);
      const header = ['SUBJECT', 'SCOPE', 'PATH', 'LOCATION'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
      process.stdout.write(`${[fmt(header), ...rows.map(fmt)].join('\n')}\n${answers.length} grant path(s) allow ${verb} ${resource}${o.namespace ? ` in ${o.namespace}` : ''}\n`);
    }
    process.exitCode = notes.some((n) => n.level === 'error') ? EXIT_ERROR : 0;
  });
}
