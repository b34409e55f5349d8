/** `gatehouse evidence …`: registered in index.ts; its commands are being built (owner: the helper building them). */
import type { Command } from 'commander';

export function registerEvidenceCommands(_program: Command): void {}
