/** Starts the watcher of a plain container host from its stored configuration. */
import type { InventorySink } from '../inventory/types.js';
import { UserError } from '../../util/errors.js';

export function startHostWatch(_sourceId: string, _config: Record<string, unknown>, _sink: InventorySink, _signal: AbortSignal): Promise<void> {
  throw new UserError('watching plain hosts is not available yet', 'unsupported');
}
