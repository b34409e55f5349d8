/** `gatehouse rbac …`: risky RBAC permissions per subject, and who-can queries, over manifests. */
import type { Command } from 'commander';
import { RBAC_KINDS } from '../../kube/cluster.js';
import { addClusterOptions, loadObjects, type ClusterCliOptions } from '../cluster-options.js';
import { analyzeRbac, whoCan } from '../../kube/rbac/analyze.js';
import { loadRbacRisks } from '../../kube/rbac/risks.js';
import { renderGrid } from '../../report/index.js';
import { addReportOptions, formatOption, outputOption, writeOutput, writeReport, type ReportCliOptions } from '../report-options.js';
import { EXIT_ERROR } from '../fail.js';

export function registerRbacCommands(program: Command): void {
  const rbac = program.command('rbac').description('RBAC risk analysis over Roles, ClusterRoles and bindings');
  const analyze = rbac
    .command('analyze')
    .description('flag risky permissions per subject with the path subject → binding → role → rule')
    .argument('[paths...]', 'manifest files or directories; - reads stdin (e.g. kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A -o yaml)');
  addClusterOptions(addReportOptions(analyze)).action(async (paths: string[], o: ClusterCliOptions & ReportCliOptions) => {
    const { objects, notes } = await loadObjects(paths, o, { kinds: RBAC_KINDS });
    const result = analyzeRbac(objects, await loadRbacRisks());
    for (const n of notes) if (n.level === 'error' || o.cluster) process.stderr.write(`gatehouse: ${n.level}: ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}\n`);
    for (const n of result.notes) process.stderr.write(`gatehouse: note: ${n}\n`);
    const { code } = await writeReport(result.findings, { command: 'rbac analyze', notes: [`${result.subjects} subject(s)`], extra: { subjects: result.subjects, notes: result.notes } }, o);
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
    .addOption(formatOption(['table', 'json']))
    .addOption(outputOption('answer'));
  addClusterOptions(whoCanCmd).action(async (verb: string, resource: string, paths: string[], o: ClusterCliOptions & { namespace?: string; name?: string; format: string; output?: string }) => {
    const { objects, notes } = await loadObjects(paths, o, { kinds: RBAC_KINDS });
    for (const n of notes) if (n.level === 'error' || o.cluster) process.stderr.write(`gatehouse: ${n.level}: ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}\n`);
    const answers = whoCan(objects, verb, resource, { namespace: o.namespace, name: o.name });
    if (o.format === 'json') {
      await writeOutput(`${JSON.stringify({ verb, resource, namespace: o.namespace, subjects: answers }, null, 2)}\n`, o);
    } else {
      const rows = answers.map((a) => [a.subject, a.scope, a.path, a.file ? `${a.file}:${a.line}` : '(cluster)']);
      await writeOutput(`${renderGrid(['SUBJECT', 'SCOPE', 'PATH', 'LOCATION'], rows)}\n${answers.length} grant path(s) allow ${verb} ${resource}${o.namespace ? ` in ${o.namespace}` : ''}\n`, o);
    }
    process.exitCode = notes.some((n) => n.level === 'error') ? EXIT_ERROR : 0;
  });
}
