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
        const none = changes.status === 200 && (changes.body === null || (Array.isArray(changes.body) && changes.body.length === 0));
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
          const config: Record<string, unknown> = { Image: pinned, HostConfig: c.HostConfig };
          for (const k of CONFIG_KEYS) if (c.Config[k] !== undefined && c.Config[k] !== null) config[k] = c.Config[k];
          const removed = await engine.call('DELETE', `/containers/${c.Id}?force=true`, undefined, ctx.signal);
          if (removed.status !== 204 && removed.status !== 200 && removed.status !== 404) throw engineError('remove', id, removed);
          const created = await engine.call('POST', `/containers/create?name=${encodeURIComponent(name)}`, config, ctx.signal);
          if (created.status !== 201 && created.status !== 200) throw engineError(`create (from ${pinned}) the replacement of`, id, created);
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
