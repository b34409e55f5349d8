/**
 * Runtime: open alerts (weighted by the square of their severity rank, as StackRox weighs
 * policy violations) and open incidents. Saturates like StackRox's "Policy Violations" (max 4).
 */
import { count, plural, saturate } from './scale.js';
import type { FactorContext, FactorResult, RiskFactor } from './types.js';

const ALERT_WEIGHTS = { critical: 16, high: 9, medium: 4, low: 1 } as const;
const INCIDENT = 20;
const SATURATION = 100;
const MAX = 4;

export const runtimeFactor: RiskFactor = {
  name: 'runtime',
  evaluate(ctx: FactorContext): FactorResult {
    let points = 0;
    const details: string[] = [];
    const alerts = ctx.runtime.alerts ?? {};
    for (const sev of Object.keys(ALERT_WEIGHTS) as (keyof typeof ALERT_WEIGHTS)[]) {
      const n = count(alerts[sev]);
      if (!n) continue;
      points += n * ALERT_WEIGHTS[sev];
      details.push(`${plural(n, `${sev} runtime alert`)}`);
    }
    const incidents = count(ctx.runtime.incidents);
    if (incidents) {
      points += incidents * INCIDENT;
      details.push(`${plural(incidents, 'open incident')}`);
    }
    return { score: saturate(points, SATURATION, MAX), details };
  },
};
