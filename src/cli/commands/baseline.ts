/** `gatehouse baseline …`: registered in index.ts; its commands are being built (owner: the helper building them). */
import type { Command } from 'commander';

export function registerBaselineCommands(_program: Command): void {}
