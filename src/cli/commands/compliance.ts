/** `gatehouse compliance report`: per-control status of a framework over manifests, a live cluster and (with --node) this host. */
import { Option, type Command } from 'commander';
import { ADMISSION_KINDS, buildComplianceReport, COMPLIANCE_FORMATS, FRAMEWORKS, MESH_KINDS, renderCompliance, type ComplianceFormat, type ComplianceInputs } from '../../compliance/index.js';
import { CLUSTER_KINDS } from '../../kube/cluster.js';
import { checkNode } from '../../node/index.js';
import { UserError } from '../../util/errors.js';
import { addClusterOptions, loadObjects, type ClusterCliOptions } from '../cluster-options.js';
import { EXIT_ERROR } from '../fail.js';
import { exitCodeOption, outputOption, writeOutput } from '../report-options.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerComplianceCommands(program: Command): void {
  const compliance = program.command('compliance').description('compliance reports: CIS Kubernetes Benchmark and NIST SP 800-190 controls from the results of every engine');
  const report = compliance
    .command('report')
    .description('per control of a framework: pass, fail, manual or not applicable, with the evidence (findings, objects, facts)')
    .argument('[paths...]', 'manifest files or directories (a Helm chart or kustomization directory is rendered first); - reads stdin')
    .addOption(new Option('--framework <name>', 'the framework').choices([...FRAMEWORKS]).makeOptionMandatory())
    .option('--node', 'also check this host (gatehouse node check) and report its results')
    .option('--root <dir>', 'with --node: root of the host filesystem to read (proc/, sys/, etc/ under it)')
    .option('--manifests <dir>', 'with --node: static-pod manifest directory, under --root (default /etc/kubernetes/manifests)')
    .option('--flags <file>', 'with --node: a bare flag list: "kube-apiserver --a=b …" (the binary name first) or COMPONENT=FILE; under --root (repeatable)', collect, [])
    .option('--kubeadm-config <file>', 'with --node: a kubeadm ClusterConfiguration file, under --root')
    .option('--findings <file>', 'a JSON report of another command (image scan, fs scan, dockerfile check, rbac analyze, node check, k8s check) or Falco JSON alert lines (runtime replay, sensor) as evidence (repeatable)', collect, [])
    .option('--policy <pack>', 'extra policy pack or exception file for the deploy policies (repeatable)', collect, [])
    .option('--mesh-root-namespace <ns>', "Istio's root namespace (mesh-wide PeerAuthentication)", 'istio-system')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...COMPLIANCE_FORMATS]).default('table'))
    .addOption(outputOption())
    .addOption(exitCodeOption('when a control fails'));
  addClusterOptions(report).action(
    async (paths: string[], o: ClusterCliOptions & { framework: string; node?: boolean; root?: string; manifests?: string; flags: string[]; kubeadmConfig?: string; findings: string[]; policy: string[]; meshRootNamespace: string; format: ComplianceFormat; output?: string; exitCode: number }) => {
      const nodeOnly = [o.root !== undefined && '--root', o.manifests !== undefined && '--manifests', o.flags.length > 0 && '--flags', o.kubeadmConfig !== undefined && '--kubeadm-config'].filter(Boolean);
      if (nodeOnly.length && !o.node) throw new UserError(`${nodeOnly.join(', ')} need${nodeOnly.length === 1 ? 's' : ''} --node`, 'usage');
      if (!paths.length && !o.cluster && !o.node && !o.findings.length) throw new UserError('give manifest files or directories (or - for stdin), --cluster, --node or --findings', 'usage');
      const inputs: ComplianceInputs = { policyPaths: o.policy, meshRootNamespace: o.meshRootNamespace, savedReports: o.findings };
      let loadErrors = false;
      if (paths.length || o.cluster) {
        const { objects, notes, cluster } = await loadObjects(paths, o, { resources: [...CLUSTER_KINDS, ...MESH_KINDS, ...ADMISSION_KINDS] });
        for (const n of notes) process.stderr.write(`gatehouse: ${n.level}: ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}\n`);
        loadErrors = notes.some((n) => n.level === 'error');
        Object.assign(inputs, { objects, cluster, source: cluster ? `cluster ${cluster}` : paths.map((p) => (p === '-' ? 'stdin' : p)).join(' ') });
      }
      if (o.node) {
        const node = await checkNode({ root: o.root, manifestsDir: o.manifests, flagFiles: o.flags, kubeadmConfig: o.kubeadmConfig });
        for (const n of node.notes) process.stderr.write(`gatehouse: note: node: ${n}\n`);
        Object.assign(inputs, { results: node.results, resultsSource: `node check on ${node.host}` });
      }
      const result = await buildComplianceReport(o.framework, inputs);
      await writeOutput(renderCompliance(result, o.format), o);
      process.exitCode = loadErrors ? EXIT_ERROR : result.summary.fail > 0 ? o.exitCode : 0;
    },
  );
}
