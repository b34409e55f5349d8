/** `gatehouse node check`: host posture and CIS Kubernetes node / control-plane checks (src/node/). */
import { Option, type Command } from 'commander';
import { AREAS, checkNode, COMPONENTS, findingsOf, type Area, type Component } from '../../node/index.js';
import { gate, getFormatter, parseSeverityFilter, renderGrid } from '../../report/index.js';
import { UserError } from '../../util/errors.js';
import { addReportOptions, writeOutput, type ReportCliOptions } from '../report-options.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { pushFindings } from '../central-push.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerNodeCommands(program: Command): void {
  const node = program.command('node').description('node posture: host facts, container engine, kubelet and control-plane configuration (CIS Kubernetes, NIST SP 800-190)');
  const check = node
    .command('check')
    .description('read this host (or a copy of one under --root) and check it: kernel, boot integrity, LSMs, engine, kubelet, control plane, file permissions')
    .option('--root <dir>', 'root of the host filesystem to read (proc/, sys/, etc/ under it)', '/')
    .option('--manifests <dir>', 'static-pod manifest directory, under --root (default /etc/kubernetes/manifests)')
    .option('--flags <file>', 'a bare flag list: "kube-apiserver --a=b …" (the binary name first) or COMPONENT=FILE; under --root (repeatable)', collect, [])
    .option('--kubeadm-config <file>', 'a kubeadm ClusterConfiguration file, under --root')
    .option('--pid <pid>', 'only this process from the process list, as PID or PID:COMPONENT (repeatable)', collect, [])
    .option('--no-processes', 'do not read the process list')
    .addOption(new Option('--area <list>', `comma-separated areas to check (${AREAS.join(',')})`));
  addCentralOptions(addReportOptions(check, { formats: ['table', 'json', 'sarif'] })).action(
    async (o: ReportCliOptions & CentralCliOptions & { root: string; manifests?: string; flags: string[]; kubeadmConfig?: string; pid: string[]; processes: boolean; area?: string }) => {
      const central = centralClientFrom(o);
      const areas = o.area?.split(',').map((a) => a.trim()).filter(Boolean);
      const badArea = areas?.find((a) => !(AREAS as readonly string[]).includes(a));
      if (badArea) throw new UserError(`unknown --area "${badArea}" (expected ${AREAS.join(', ')})`, 'usage');
      const processes = o.pid.map((p) => {
        const m = /^(\d+)(?::([a-z-]+))?$/.exec(p);
        if (!m) throw new UserError(`--pid ${p}: expected a process id, optionally PID:COMPONENT`, 'usage');
        if (m[2] && !(COMPONENTS as readonly string[]).includes(m[2])) throw new UserError(`--pid ${p}: unknown component "${m[2]}" (expected ${COMPONENTS.join(', ')})`, 'usage');
        return { pid: Number(m[1]), ...(m[2] ? { component: m[2] as Component } : {}) };
      });
      const report = await checkNode({
        root: o.root,
        manifestsDir: o.manifests,
        flagFiles: o.flags,
        kubeadmConfig: o.kubeadmConfig,
        processes: processes.length ? processes : undefined,
        noProcesses: !o.processes,
        areas: areas as Area[] | undefined,
      });
      const keep = parseSeverityFilter(o.severity);
      const results = report.results.filter((r) => keep(r.severity));
      const counts = ['pass', 'fail', 'unknown', 'manual', 'not-applicable'].map((s) => `${results.filter((r) => r.status === s).length} ${s}`).join(', ');
      const notes = [`host ${report.host}${report.root !== '/' ? ` (root ${report.root})` : ''}: ${results.length} check(s): ${counts}`, ...report.notes];
      const { shown, code } = gate(findingsOf(report.results), o.severity, o.exitCode);
      if (o.format === 'table') {
        const rows = results.map((r) => [r.status.toUpperCase(), r.severity, r.id, r.status === 'pass' ? r.evidence[0] ?? '' : r.reason ?? r.finding?.detail ?? r.evidence[0] ?? '']);
        const text = [renderGrid(['STATUS', 'SEVERITY', 'CHECK', 'EVIDENCE / REASON'], rows, { maxWidth: 48 }), '', `node check: ${shown.length} finding(s)`, ...notes.map((n) => `note: ${n}`)].join('\n');
        await writeOutput(`${text}\n`, o);
      } else {
        const text = getFormatter(o.format).format(shown, {
          command: 'node check',
          notes,
          extra: { host: report.host, root: report.root, results, facts: report.facts, sources: report.sources, notes: report.notes },
        });
        await writeOutput(text, o);
      }
      process.exitCode = code;
      // The report replaces this host's previous one in Central (every failed check, not only the --severity ones).
      if (central) await pushFindings(central, 'node-check', report.host, findingsOf(report.results));
    },
  );
}
