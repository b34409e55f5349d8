/** Placeholder registered ahead of its owner's work (session 4); replaced by the real command group. */
import type { Command } from 'commander';

export function registerIdentityCommands(_program: Command): void {}
