/**
 * The `gatehouse` command: a thin shell over the engine libraries. Each command group lives
 * in src/cli/commands/<group>.ts and is registered in src/cli/commands/index.ts; the program
 * itself is built in program.ts.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { reportFatal } from './fail.js';

const program = await buildProgram(process.argv);

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
