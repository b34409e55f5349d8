/**
 * Kill one process inside a container, leaving the container running. Two ways in:
 * - `pid`: the process id inside the container's pid namespace (what `docker top` shows on
 *   podman, and what the sensor reports as proc.vpid): the engine runs `kill -SIGNAL PID`
 *   inside the container (the image must have a `kill`, as busybox and coreutils images do);
 * - `hostPid`: the host's process id (the sensor's proc.pid), for an agent on the same
 *   host: the process is signalled directly, after checking from /proc/PID/cgroup that it
 *   really belongs to that container (a pid reused by another process is never killed).
 * A process that no longer exists is `already`.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { engineError, shortId, type ContainerInspect, type EngineApi } from './engine.js';
import type { ContainerTarget, ResponseAction } from './types.js';

export interface ProcessTarget extends ContainerTarget {
  pid?: number;
  hostPid?: number;
}

export function processKill(engine: EngineApi, opts: { signal?: 'KILL' | 'TERM'; procRoot?: string } = {}): ResponseAction<ProcessTarget> {
  const signal = opts.signal ?? 'KILL';
  const procRoot = opts.procRoot ?? '/proc';
  return {
    name: 'kill-process',
    destructive: true,
    async plan(target, ctx) {
      const { pid, hostPid } = target;
      if ((pid === undefined) === (hostPid === undefined)) throw new UserError('kill-process needs exactly one of a pid inside the container or a host pid', 'usage');
      const n = (pid ?? hostPid)!;
      if (!Number.isInteger(n) || n < 1) throw new UserError(`invalid process id ${n}`, 'usage');
      const c = await engine.inspect(target.container, ctx.signal);
      const id = shortId(c.Id);
      if (!c.State.Running) return { state: 'already', detail: `container ${id} is not running (${c.State.Status}): its processes are gone` };
      if (hostPid !== undefined) {
        const cgroup = readCgroup(procRoot, hostPid);
        if (cgroup === undefined) return { state: 'already', detail: `host process ${hostPid} no longer exists` };
        if (!cgroup.includes(c.Id)) return { state: 'refused', detail: `host process ${hostPid} is not in container ${id} (its cgroup is ${cgroup.split('\n')[0]}): not killed` };
        return {
          state: 'todo',
          detail: `kill host process ${hostPid} of container ${id} with SIG${signal}`,
          async apply() {
            try {
              process.kill(hostPid, `SIG${signal}`);
            } catch (e) {
              if ((e as { code?: string }).code === 'ESRCH') return { detail: `host process ${hostPid} ended before the signal` };
              throw e;
            }
            return { detail: `killed host process ${hostPid} of container ${id} with SIG${signal}` };
          },
        };
      }
      if (c.State.Paused) return { state: 'refused', detail: `container ${id} is paused: nothing can run in it to signal process ${pid} (kill the container, or give the host pid)` };
      if (!(await processAlive(engine, c, pid!, ctx.signal))) return { state: 'already', detail: `process ${pid} does not exist in container ${id} (or has already ended)` };
      return {
        state: 'todo',
        detail: `kill process ${pid} in container ${id} with SIG${signal}`,
        async apply() {
          const code = await execIn(engine, c, ['kill', `-${signal}`, String(pid)], ctx.signal);
          if (code !== 0) return { detail: `process ${pid} in container ${id} ended before the signal` };
          return { detail: `killed process ${pid} in container ${id} with SIG${signal}` };
        },
      };
    },
  };
}

function readCgroup(procRoot: string, pid: number): string | undefined {
  try {
    return readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Whether the process exists and has not ended (a killed process whose parent does not reap
 * it stays a zombie: it has ended). Through `sh` reading /proc/PID/status; an image without
 * a shell falls back to `kill -0`.
 */
async function processAlive(engine: EngineApi, c: ContainerInspect, pid: number, signal?: AbortSignal): Promise<boolean> {
  const script = `s=$(cat /proc/${pid}/status 2>/dev/null) || exit 1; case "$s" in *"State:"*Z*"zombie"*) exit 1;; esac; exit 0`;
  const code = await execIn(engine, c, ['sh', '-c', script], signal);
  if (code === 0 || code === 1) return code === 0;
  return (await execIn(engine, c, ['kill', '-0', String(pid)], signal)) === 0;
}

/** Runs a command in the container (attached, its output discarded), and answers its exit code. */
async function execIn(engine: EngineApi, c: ContainerInspect, cmd: string[], signal?: AbortSignal): Promise<number> {
  const created = await engine.call('POST', `/containers/${c.Id}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: true }, signal);
  if (created.status !== 201 && created.status !== 200) throw engineError('exec in', shortId(c.Id), created);
  const execId = (created.body as { Id: string }).Id;
  // The attached start answers once the command has ended (podman leaves a detached exec "running").
  const started = await engine.call('POST', `/exec/${execId}/start`, { Detach: false, Tty: false }, signal);
  if (started.status !== 200 && started.status !== 204) throw engineError('start exec in', shortId(c.Id), started);
  for (let i = 0; i < 500; i++) {
    const r = await engine.call('GET', `/exec/${execId}/json`, undefined, signal);
    const s = r.body as { Running?: boolean; ExitCode?: number | null };
    if (r.status === 200 && s.Running === false && typeof s.ExitCode === 'number') return s.ExitCode;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`\`${cmd.join(' ')}\` in container ${shortId(c.Id)} did not finish in 5 s`);
}
