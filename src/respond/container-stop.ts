/** Stop a container (SIGTERM, then SIGKILL after the grace period, as `docker stop`). */
import { engineError, shortId, type EngineApi } from './engine.js';
import type { ContainerTarget, ResponseAction } from './types.js';

export function containerStop(engine: EngineApi, opts: { graceSeconds?: number } = {}): ResponseAction<ContainerTarget> {
  const t = opts.graceSeconds ?? 10;
  return {
    name: 'stop',
    destructive: true,
    async plan(target, ctx) {
      const c = await engine.inspect(target.container, ctx.signal);
      const id = shortId(c.Id);
      if (!c.State.Running && !c.State.Paused) return { state: 'already', detail: `container ${id} is not running (${c.State.Status})` };
      return {
        state: 'todo',
        detail: `stop container ${id} (${c.Name.replace(/^\//, '')}), killing it after ${t} s`,
        async apply() {
          const r = await engine.call('POST', `/containers/${c.Id}/stop?t=${t}`, undefined, ctx.signal);
          if (r.status === 304) return { detail: `container ${id} had already stopped` };
          if (r.status !== 204 && r.status !== 200) throw engineError('stop', id, r);
          return { detail: `stopped container ${id}` };
        },
      };
    },
  };
}
