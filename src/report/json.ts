/** JSON: the findings as they are, plus any extra sections the command provides. */
import type { Formatter } from './types.js';

export const jsonFormatter: Formatter = {
  name: 'json',
  description: 'Gatehouse Finding objects as JSON',
  format(findings, ctx) {
    return `${JSON.stringify({ command: ctx.command, findings, ...(ctx.extra ?? {}) }, null, 2)}\n`;
  },
};
