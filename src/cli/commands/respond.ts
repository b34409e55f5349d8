/** `gatehouse respond …`: registered in index.ts; its commands are being built (owner: the helper building them). */
import type { Command } from 'commander';

export function registerRespondCommands(_program: Command): void {}
