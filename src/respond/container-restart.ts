/**
 * Replace a container from its image — the cattle model: the running container (and
 * whatever drifted into its filesystem) is removed, and a new one with the same name and
 * configuration is created from the image, after the image's signature is verified with the
 * trust engine (the same decision as `image verify`). When the trust check names the digest
 * it verified, the new container runs exactly that digest (pulled if the engine lacks it).
 * An unsigned or unverifiable image is refused: the old container is left as it is.
 * `already`: the container runs the verified image and its filesystem has no change since.
 */
import { engineError, shortId, type EngineApi } from './engine.js';
import type { ImageTrustCheck } from './image-trust.js';
import type { ContainerTarget, ResponseAction } from './types.js';

/** Config keys a create request takes back from inspect (the rest are the engine's own). */
const CONFIG_KEYS = ['User', 'Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'Labels', 'ExposedPorts', 'StopSignal', 'StopTimeout', 'Volumes', 'Tty', 'OpenStdin', 'StdinOnce', 'Healthcheck', 'Domainname'];

export function containerRestart(engine: EngineApi, trust: ImageTrustCheck): ResponseAction<ContainerTarget> {
  return {
    name: 'restart',
    destructive: true,
    async plan(target, ctx) {
      const c = await engine.inspect(target.container, ctx.signal);
      const id = shortId(c.Id);
      const name = c.Name.replace(/^\//, '');
      const imageRef = c.Config.Image;
      const verdict = await trust(imageRef);
      if (!verdict.allowed) return { state: 'refused', detail: `image ${imageRef} of container ${id} did not verify (${verdict.reason}): not restarted from it` };
      const pinned = verdict.digest && verdict.repository ? `${verdict.repository}@${verdict.digest}` : imageRef;
      if (c.State.Running) {
        const changes = await engine.call('GET', `/containers/${c.Id}/changes`, undefined, ctx.signal);
        const none = changes.status === 200 && (changes.body === null || (Array.isArray(changes.body) && changes.body.every(engineManaged)));
        const sameImage = !verdict.digest || (await imageId(engine, pinned, ctx.signal)) === c.Image;
        if (none && sameImage) return { state: 'already', detail: `container ${id} runs the verified image ${pinned} with no change to its filesystem`, data: { image: pinned } };
      }
      return {
        state: 'todo',
        detail: `replace container ${id} (${name}) with a new one from the verified image ${pinned}`,
        data: { image: pinned, verified: verdict.reason },
        async apply() {
          if (pinned !== imageRef && !(await imageId(engine, pinned, ctx.signal))) {
            const [from, digest] = pinned.split('@') as [string, string];
            const pulled = await engine.call('POST', `/images/create?fromImage=${encodeURIComponent(from)}&tag=${encodeURIComponent(digest)}`, undefined, ctx.signal);
            if (pulled.status !== 200) throw engineError('pull the verified image for', id, pulled);
          }
          const config: Record<string, unknown> = { Image: pinned, HostConfig: hostConfig(c.HostConfig) };
          for (const k of CONFIG_KEYS) if (c.Config[k] !== undefined && c.Config[k] !== null) config[k] = c.Config[k];
          // The old container steps aside under another name (and comes back if the new one
          // cannot be created), so a failure never leaves nothing where something ran.
          const aside = `${name}-replaced-${id}`;
          const renamed = await engine.call('POST', `/containers/${c.Id}/rename?name=${encodeURIComponent(aside)}`, undefined, ctx.signal);
          const movedAside = renamed.status === 204 || renamed.status === 200;
          if (!movedAside) await removeContainer(engine, c.Id, id, ctx.signal);
          const created = await engine.call('POST', `/containers/create?name=${encodeURIComponent(name)}`, config, ctx.signal);
          if (created.status !== 201 && created.status !== 200) {
            if (movedAside) await engine.call('POST', `/containers/${c.Id}/rename?name=${encodeURIComponent(name)}`, undefined, ctx.signal);
            throw engineError(`create (from ${pinned}) the replacement of`, id, created);
          }
          if (movedAside) await removeContainer(engine, c.Id, id, ctx.signal);
          const newId = (created.body as { Id: string }).Id;
          const started = await engine.call('POST', `/containers/${newId}/start`, undefined, ctx.signal);
          if (started.status !== 204 && started.status !== 304 && started.status !== 200) throw engineError('start the replacement', shortId(newId), started);
          return { detail: `replaced container ${id} with ${shortId(newId)} (${name}) from the verified image ${pinned}`, data: { replacedBy: newId } };
        },
      };
    },
  };
}

async function imageId(engine: EngineApi, ref: string, signal?: AbortSignal): Promise<string | undefined> {
  const r = await engine.call('GET', `/images/${encodeURIComponent(ref)}/json`, undefined, signal);
  return r.status === 200 ? (r.body as { Id?: string }).Id : undefined;
}

async function removeContainer(engine: EngineApi, fullId: string, id: string, signal?: AbortSignal): Promise<void> {
  const removed = await engine.call('DELETE', `/containers/${fullId}?force=true`, undefined, signal);
  if (removed.status !== 204 && removed.status !== 200 && removed.status !== 404) throw engineError('remove', id, removed);
}

/** The inspected HostConfig as a create request takes it (podman reports ulimits as RLIMIT_NOFILE, create wants nofile). */
function hostConfig(h: Record<string, unknown>): Record<string, unknown> {
  const out = { ...h };
  if (Array.isArray(h.Ulimits)) out.Ulimits = (h.Ulimits as { Name: string; Soft: number; Hard: number }[]).map((u) => ({ ...u, Name: u.Name.replace(/^RLIMIT_/, '').toLowerCase() }));
  return out;
}

/** Files the engine itself writes into every container (name resolution, its own markers): not drift. */
const ENGINE_FILES = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/.containerenv', '/.dockerenv']);
const ENGINE_DIRS = new Set(['/etc', '/run', '/dev', '/proc', '/sys', '/run/secrets']);
function engineManaged(change: { Path: string; Kind: number }): boolean {
  return ENGINE_FILES.has(change.Path) || (change.Kind === 0 && ENGINE_DIRS.has(change.Path));
}
