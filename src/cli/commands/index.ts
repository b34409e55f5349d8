import type { Command } from 'commander';
import { registerImageCommands } from './image.js';

/** Every command group, one line each. */
export function registerCommands(program: Command): void {
  registerImageCommands(program);
}
