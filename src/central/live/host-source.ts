/** Starts the watcher of a plain container host from its stored configuration. */
import type { InventorySink } from '../inventory/types.js';
import { watchHost } from '../inventory/host-watch.js';
import type { HostConfig } from '../api/sources.js';

export function startHostWatch(sourceId: string, config: Record<string, unknown>, sink: InventorySink, signal: AbortSignal): Promise<void> {
  const host = config as unknown as HostConfig;
  return watchHost({ sourceId, endpoint: host.endpoint, ...(host.tls ? { tls: host.tls } : {}), sink, signal }).done;
}
