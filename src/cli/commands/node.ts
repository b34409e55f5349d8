/** `gatehouse node …`: registered in index.ts; its commands are being built (owner: the helper building them). */
import type { Command } from 'commander';

export function registerNodeCommands(_program: Command): void {}
