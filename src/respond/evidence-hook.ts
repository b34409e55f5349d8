/**
 * The evidence hook wired to the forensic evidence module: before a destructive action on a
 * container, a bundle is collected (collectEvidence, src/respond/evidence/) into
 * DIR/<time>-<container>-<action>/, signed when a key is given. Kubernetes targets have no
 * engine here to read, so nothing is captured for them (undefined: no bundle).
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { collectEvidence } from './evidence/collect.js';
import type { EvidenceLimits } from './evidence/manifest.js';
import type { EvidenceCapture } from './types.js';

export interface EvidenceHookOptions {
  /** Folder the bundles go into (one sub-folder per capture). */
  dir: string;
  /** Engine endpoint of the containers. */
  host?: string;
  signingKey?: KeyObject;
  limits?: Partial<EvidenceLimits>;
  /** Skip the host's /proc (the engine is remote). */
  noProc?: boolean;
  now?: () => Date;
}

export function evidenceCapture(opts: EvidenceHookOptions): EvidenceCapture {
  let seq = 0;
  return async ({ target, action, trigger, events }) => {
    if (target.type !== 'container') return undefined;
    const now = opts.now?.() ?? new Date();
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const safe = target.container.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
    const output = join(opts.dir, `${stamp}-${safe}-${action}-${++seq}`);
    const result = await collectEvidence({
      container: target.container,
      ...(target.endpoint ?? opts.host ? { host: target.endpoint ?? opts.host } : {}),
      output,
      ...(events ? { events } : {}),
      incident: {
        ...(trigger.incident ? { id: trigger.incident } : {}),
        trigger: trigger.alert?.rule ?? trigger.by,
        ...(trigger.policies?.length ? { policy: trigger.policies.join(',') } : {}),
        reason: `before ${action}`,
      },
      ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.noProc ? { noProc: true } : {}),
    });
    return { location: result.path };
  };
}
