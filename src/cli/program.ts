/** The `gatehouse` commander program, built without parsing: main.ts runs it, tests walk it. */
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { GATEHOUSE_VERSION } from '../version.js';

/** The program with every command, or only those `argv` needs (see registerCommands). */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('gatehouse')
    .description('Gatehouse: security for containers and Kubernetes, from build to runtime')
    .version(GATEHOUSE_VERSION)
    .showHelpAfterError()
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}
