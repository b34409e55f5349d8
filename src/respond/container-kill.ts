/**
 * Kill a container (SIGKILL to its init process, as `docker kill`): it ends now, with no
 * grace period. On the engine's own host (a unix socket, and the container's init process
 * visible in /proc with the container's id in its cgroup) the init process is signalled
 * directly — the kernel then kills every process of the container's pid namespace — which
 * takes effect in milliseconds where the engine's kill call can take a second under podman;
 * otherwise (remote engine, paused container, another pid namespace) the engine kills it.
 * Either way `done` means the engine has seen the container stop.
 */
import { readFileSync } from 'node:fs';
import { engineError, shortId, untilStopped, type EngineApi } from './engine.js';
import type { ContainerTarget, ResponseAction } from './types.js';

export interface ContainerKillOptions {
  /** Signal the init process directly when it is on this host (default true for unix sockets). */
  local?: boolean;
  procRoot?: string;
}

export function containerKill(engine: EngineApi, opts: ContainerKillOptions = {}): ResponseAction<ContainerTarget> {
  const local = opts.local ?? engine.endpoint.replace(/^unix:\/\//, '').startsWith('/');
  const procRoot = opts.procRoot ?? '/proc';
  return {
    name: 'kill',
    destructive: true,
    async plan(target, ctx) {
      const c = await engine.inspect(target.container, ctx.signal);
      const id = shortId(c.Id);
      if (!c.State.Running && !c.State.Paused) return { state: 'already', detail: `container ${id} is not running (${c.State.Status})` };
      return {
        state: 'todo',
        detail: `kill container ${id} (${c.Name.replace(/^\//, '')}) with SIGKILL`,
        async apply() {
          let how = 'engine';
          if (local && !c.State.Paused && c.State.Pid > 0 && initIsContainer(procRoot, c.State.Pid, c.Id)) {
            try {
              process.kill(c.State.Pid, 'SIGKILL');
              how = 'init';
            } catch {
              // gone meanwhile, or not ours to signal: the engine does it
            }
          }
          if (how === 'engine') {
            const r = await engine.call('POST', `/containers/${c.Id}/kill?signal=SIGKILL`, undefined, ctx.signal);
            if (r.status === 409) return { detail: `container ${id} had already stopped` };
            if (r.status !== 204 && r.status !== 200) throw engineError('kill', id, r);
          }
          // Done means it took effect: the engine sees it stopped. Inspect is polled (podman's
          // wait endpoint answers on its own slower poll).
          await untilStopped(engine, c.Id, ctx.signal);
          return { detail: `killed container ${id} with SIGKILL${how === 'init' ? ' (its init process, on this host)' : ''}`, data: { via: how } };
        },
      };
    },
  };
}

function initIsContainer(procRoot: string, pid: number, id: string): boolean {
  try {
    return readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8').includes(id);
  } catch {
    return false;
  }
}
