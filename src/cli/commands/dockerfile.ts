/** `gatehouse dockerfile check FILE…`: Dockerfile hygiene and security rules with line numbers. */
import type { Command } from 'commander';
import { checkDockerfiles } from '../../kube/dockerfile/check.js';
import { addReportOptions, writeReport, type ReportCliOptions } from '../report-options.js';

export function registerDockerfileCommands(program: Command): void {
  const df = program.command('dockerfile').description('Dockerfile checks');
  addReportOptions(df.command('check').description('check Dockerfiles (- reads stdin)').argument('<files...>', 'Dockerfiles')).action(
    async (files: string[], o: ReportCliOptions) => {
      const findings = await checkDockerfiles(files);
      const { code } = await writeReport(findings, { command: 'dockerfile check' }, o);
      process.exitCode = code;
    },
  );
}
