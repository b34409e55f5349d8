/** `gatehouse compliance …`: registered in index.ts; its commands are being built (owner: the helper building them). */
import type { Command } from 'commander';

export function registerComplianceCommands(_program: Command): void {}
