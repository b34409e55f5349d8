/**
 * The main job with nothing configured: a Central whose store has no cluster or host yet
 * watches what it finds on this machine (a Docker/podman socket, the kubeconfig's current
 * context). Once anything is configured, discovery adds nothing.
 */
import { readFileSync } from 'node:fs';
import type { CentralContext } from '../context.js';
import type { LocalSources } from '../discover.js';
import { createSource, listSources } from '../store/sources.js';
import { describeError } from '../../util/errors.js';

export interface AdoptedSource { kind: 'cluster' | 'host'; name: string; from: string }

export async function adoptLocalSources(ctx: CentralContext, found: LocalSources): Promise<{ adopted: AdoptedSource[]; notes: string[] }> {
  const adopted: AdoptedSource[] = [];
  const notes: string[] = [];
  if ((await listSources(ctx.db)).length > 0) return { adopted, notes };
  const now = ctx.now().toISOString();
  for (const [i, endpoint] of found.engineSockets.entries()) {
    const name = i === 0 ? 'local' : `local-${i + 1}`;
    if (await createSource(ctx.db, { kind: 'host', name, sealedConfig: ctx.secrets.seal(JSON.stringify({ endpoint })) }, now)) adopted.push({ kind: 'host', name, from: endpoint });
  }
  if (found.kubeconfig) {
    try {
      const kubeconfig = readFileSync(found.kubeconfig.file, 'utf8');
      const name = found.kubeconfig.context.replace(/[^a-zA-Z0-9._-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '').slice(0, 63) || 'kubernetes';
      const config = { kubeconfig, context: found.kubeconfig.context };
      if (await createSource(ctx.db, { kind: 'cluster', name, sealedConfig: ctx.secrets.seal(JSON.stringify(config)) }, now)) adopted.push({ kind: 'cluster', name, from: `${found.kubeconfig.file} (context ${found.kubeconfig.context})` });
    } catch (e) {
      notes.push(`kubeconfig ${found.kubeconfig.file}: ${describeError(e)}`);
    }
  }
  if (adopted.length) ctx.events.emit('sources');
  return { adopted, notes };
}
