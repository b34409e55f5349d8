/** Pause a container (freeze its processes in their cgroup): nothing is lost, it can be inspected and resumed. */
import { engineError, shortId, type EngineApi } from './engine.js';
import type { ContainerTarget, ResponseAction } from './types.js';

export function containerPause(engine: EngineApi): ResponseAction<ContainerTarget> {
  return {
    name: 'pause',
    // Nothing is destroyed: the frozen processes are the evidence.
    destructive: false,
    async plan(target, ctx) {
      const c = await engine.inspect(target.container, ctx.signal);
      const id = shortId(c.Id);
      if (c.State.Paused) return { state: 'already', detail: `container ${id} is already paused` };
      if (!c.State.Running) return { state: 'refused', detail: `container ${id} is not running (${c.State.Status}): nothing to pause` };
      return {
        state: 'todo',
        detail: `pause container ${id} (${c.Name.replace(/^\//, '')})`,
        async apply() {
          const r = await engine.call('POST', `/containers/${c.Id}/pause`, undefined, ctx.signal);
          if (r.status !== 204 && r.status !== 200) throw engineError('pause', id, r);
          return { detail: `paused container ${id}` };
        },
      };
    },
  };
}
