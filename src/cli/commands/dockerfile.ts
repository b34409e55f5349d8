/** `gatehouse dockerfile check FILE…`: Dockerfile hygiene and security rules with line numbers. */
import type { Command } from 'commander';
import { checkDockerfiles } from '../../kube/dockerfile/check.js';
import { formatNames, getFormatter } from '../../report/index.js';
import { gate } from '../../report/gate.js';

export function registerDockerfileCommands(program: Command): void {
  const df = program.command('dockerfile').description('Dockerfile checks');
  df.command('check')
    .description('check Dockerfiles (- reads stdin)')
    .argument('<files...>', 'Dockerfiles')
    .option('-o, --output <format>', `output format: ${formatNames().join(', ')}`, 'table')
    .option('--severity <levels>', 'report findings at or above this severity (or a comma list)')
    .option('--exit-code <n>', 'exit code when findings remain', '1')
    .action(async (files: string[], o: { output: string; severity?: string; exitCode: string }) => {
      const formatter = getFormatter(o.output);
      const findings = await checkDockerfiles(files);
      const { shown, code } = gate(findings, o.severity, o.exitCode);
      process.stdout.write(formatter.format(shown, { command: 'dockerfile check' }));
      process.exitCode = code;
    });
}
