/**
 * Isolate a container: disconnect it from every network it is attached to, so it keeps
 * running (and its state stays for investigation) but can reach nothing and nothing can
 * reach it. A container in the host's network namespace cannot be cut off this way: that is
 * refused with a hint (kill, stop or pause it instead).
 */
import { engineError, shortId, type EngineApi } from './engine.js';
import type { ContainerTarget, ResponseAction } from './types.js';

export function containerIsolate(engine: EngineApi): ResponseAction<ContainerTarget> {
  return {
    name: 'isolate',
    destructive: false,
    async plan(target, ctx) {
      const c = await engine.inspect(target.container, ctx.signal);
      const id = shortId(c.Id);
      const mode = c.HostConfig.NetworkMode ?? '';
      if (mode === 'host') return { state: 'refused', detail: `container ${id} shares the host's network namespace: disconnecting cannot isolate it (pause, stop or kill it instead)` };
      if (mode.startsWith('container:')) return { state: 'refused', detail: `container ${id} shares the network of ${mode.slice('container:'.length)}: isolate that container instead` };
      const networks = Object.keys(c.NetworkSettings.Networks ?? {}).filter((n) => n !== 'none');
      if (networks.length === 0) return { state: 'already', detail: `container ${id} is attached to no network` };
      return {
        state: 'todo',
        detail: `disconnect container ${id} (${c.Name.replace(/^\//, '')}) from ${networks.join(', ')}`,
        data: { networks },
        async apply() {
          for (const n of networks) {
            const r = await engine.call('POST', `/networks/${encodeURIComponent(n)}/disconnect`, { Container: c.Id, Force: true }, ctx.signal);
            if (r.status !== 200 && r.status !== 204) throw engineError(`disconnect from network ${n}:`, id, r);
          }
          return { detail: `disconnected container ${id} from ${networks.join(', ')}` };
        },
      };
    },
  };
}
