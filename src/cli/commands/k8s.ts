/** `gatehouse k8s …`: Kubernetes posture checks over manifests (files, dirs, stdin). */
import type { Command } from 'commander';
import { checkObjects } from '../../kube/check.js';
import { subjects } from '../../subjects/index.js';
import { BUILTIN_PACKS } from '../../policy/builtin.js';
import { parsePssPolicy } from '../../kube/pss/evaluate.js';
import { addReportOptions, writeReport, type ReportCliOptions } from '../report-options.js';
import { EXIT_ERROR } from '../fail.js';
import { UserError } from '../../util/errors.js';
import { addClusterOptions, loadObjects, type ClusterCliOptions } from '../cluster-options.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { pushFindings } from '../central-push.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerK8sCommands(program: Command): void {
  const k8s = program.command('k8s').description('Kubernetes posture: Pod Security Standards, least privilege, cluster configuration');
  const check = k8s
    .command('check')
    .description('check manifests (files, directories, or - for stdin) or a live cluster (--cluster) against the policy pack')
    .argument('[paths...]', 'manifest files or directories (a Helm chart or kustomization directory is rendered first); - reads stdin')
    .option('--pss <level>', 'run only Pod Security Standards checks: baseline|restricted[:v1.NN]')
    .option('--policy <pack>', `policy pack: a file, a directory or a built-in name (${BUILTIN_PACKS.join(', ')}); overrides defaults by id (repeatable)`, collect, [])
    .option('--exceptions <path>', 'exception YAML (file or dir) (repeatable)', collect, [])
    .option('--no-defaults', 'do not load the default policy pack')
    .option('-n, --namespace <ns>', 'with --cluster: only this namespace (and cluster-scoped objects)');
  addCentralOptions(addClusterOptions(addReportOptions(check))).action(
    async (paths: string[], o: ClusterCliOptions & ReportCliOptions & CentralCliOptions & { pss?: string; policy: string[]; exceptions: string[]; defaults: boolean; namespace?: string }) => {
      const pss = o.pss ? parsePssPolicy(o.pss) : undefined;
      const central = centralClientFrom(o);
      if (o.namespace && !o.cluster) throw new UserError('--namespace applies to --cluster only', 'usage');
      const { objects, notes, cluster } = await loadObjects(paths, o, { namespace: o.namespace });
      const result = await checkObjects(objects, notes, { subjects: subjects(), pss, policyPaths: [...o.policy, ...o.exceptions], noDefaults: !o.defaults, cluster });
      for (const n of notes) process.stderr.write(`gatehouse: ${n.level}: ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}\n`);
      for (const e of result.expiredExceptions) {
        process.stderr.write(`gatehouse: note: exception for ${e.policy} (owner ${e.owner}) expired on ${e.expires}${e.origin ? ` (${e.origin.file}:${e.origin.line})` : ''}\n`);
      }
      const { code } = await writeReport(
        result.findings,
        {
          command: 'k8s check',
          notes: [
            `${result.objectsChecked} object(s)${cluster ? ` from cluster ${cluster}` : ''}, ${result.policiesRun} polic(ies)${pss ? `, Pod Security ${pss.level} v1.${pss.minor}` : ''}`,
            ...(result.excepted.length ? [`${result.excepted.length} finding(s) covered by exceptions`] : []),
          ],
          extra: {
            objects: result.objectsChecked,
            excepted: result.excepted.map((x) => ({ id: x.finding.id, resource: x.finding.resource, exception: x.exception })),
            expiredExceptions: result.expiredExceptions,
            notes,
          },
        },
        o,
      );
      const loadErrors = notes.some((n) => n.level === 'error');
      process.exitCode = loadErrors ? EXIT_ERROR : code;
      // The report replaces the previous one of the same target: a cluster, or the paths as given.
      // A partial load would resolve violations of the objects it missed: nothing is pushed then.
      if (central && loadErrors) process.stderr.write('gatehouse: not pushed to Central: some manifests could not be loaded\n');
      else if (central) await pushFindings(central, 'k8s-check', cluster ?? paths.map((p) => (p === '-' ? 'stdin' : p)).join(' '), result.findings);
    },
  );
}
