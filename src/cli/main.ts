/**
 * The `gatehouse` command: a thin shell over the engine libraries. Each command group lives
 * in src/cli/commands/<group>.ts and is registered in src/cli/commands/index.ts.
 */
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { reportFatal } from './fail.js';
import { GATEHOUSE_VERSION } from '../version.js';

const program = new Command('gatehouse')
  .description('Gatehouse: security for containers and Kubernetes, from build to runtime')
  .version(GATEHOUSE_VERSION)
  .showHelpAfterError()
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    reportFatal(e);
  }
}
