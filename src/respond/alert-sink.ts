/**
 * The response engine as an alert sink, for the sensor host agent (and `runtime replay`):
 * every alert a runtime policy denied (its `gatehouse` verdict names enforcement) goes to
 * `respondTo`; the host action set acts on this host's containers through the local engine.
 * `sensorResponder` assembles it from the options a CLI passes (engine endpoint, audit log,
 * kill-switch file, cooldown, dry run, evidence folder).
 */
import type { Alert } from '../runtime/alerts/alert.js';
import type { AlertSink } from '../runtime/alerts/sinks.js';
import { hostActionSet } from './action-sets.js';
import { JsonlAuditLog } from './audit.js';
import { EngineApi } from './engine.js';
import { evidenceCapture, type ClosableEvidenceCapture } from './evidence-hook.js';
import { Responder, type Decision, type ResponderOptions } from './responder.js';

export class ResponderSink implements AlertSink {
  /** Alerts not delivered: none (an alert is always taken; actions that failed are counted in `failedActions`). */
  readonly failed = 0;
  failedActions = 0;
  private readonly pending = new Set<Promise<unknown>>();
  constructor(readonly responder: Responder, private readonly onClose: () => Promise<void> = async () => {}) {}

  write(alert: Alert): void {
    if (!alert.gatehouse?.enforcement.length) return;
    for (const d of this.responder.respondTo(alert)) this.track(d);
  }

  private track(d: Decision): void {
    if (d.kind !== 'acting') return;
    const p = d.result.then((r) => {
      if (r.outcome === 'failed') this.failedActions++;
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  async close(): Promise<void> {
    await this.responder.idle();
    await Promise.allSettled([...this.pending]);
    await this.onClose();
  }
}

export interface SensorResponderOptions {
  /** Engine endpoint (`unix:///run/podman/podman.sock`, …). */
  endpoint: string;
  auditLog: string;
  dryRun?: boolean;
  killSwitchFile?: string;
  cooldownSeconds?: number;
  evidenceDir?: string;
  /** Extra Responder options (rate limits, never-touch lists, notifiers). */
  responder?: Partial<ResponderOptions>;
}

export function sensorResponder(o: SensorResponderOptions): ResponderSink {
  const engine = new EngineApi(o.endpoint);
  const evidence: ClosableEvidenceCapture | undefined = o.evidenceDir ? evidenceCapture({ dir: o.evidenceDir, host: o.endpoint }) : undefined;
  const responder = new Responder({
    actions: hostActionSet(engine),
    audit: new JsonlAuditLog(o.auditLog),
    component: 'sensor',
    ...(o.dryRun ? { dryRun: true } : {}),
    ...(o.killSwitchFile ? { killSwitch: { file: o.killSwitchFile } } : {}),
    ...(o.cooldownSeconds !== undefined ? { cooldownMs: o.cooldownSeconds * 1000 } : {}),
    ...(evidence ? { evidence } : {}),
    ...o.responder,
  });
  return new ResponderSink(responder, async () => {
    await evidence?.close();
    await engine.close();
  });
}
