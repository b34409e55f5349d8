/**
 * Vulnerabilities of the deployment's images: CVSS-like weights per severity, more for
 * fixable ones (a published fix also tells attackers where to look) and far more for ones
 * known to be exploited. Saturates like StackRox's "Image Vulnerabilities" (max 4).
 */
import { count, distinctImages, saturate } from './scale.js';
import type { FactorContext, FactorResult, RiskFactor } from './types.js';

const WEIGHTS = { critical: 10, high: 7, medium: 4, low: 1 } as const;
const FIXABLE_WEIGHT = 2;
const KNOWN_EXPLOITED_WEIGHT = 25;
const SATURATION = 300;
const MAX = 4;

export const vulnerabilitiesFactor: RiskFactor = {
  name: 'vulnerabilities',
  evaluate(ctx: FactorContext): FactorResult {
    let points = 0;
    const details: string[] = [];
    for (const image of distinctImages(ctx.images)) {
      const v = image.vulns ?? {};
      const by = (Object.keys(WEIGHTS) as (keyof typeof WEIGHTS)[]).map((s) => [s, count(v[s])] as const);
      const fixable = count(v.fixable);
      const exploited = count(v.knownExploited);
      const imagePoints = by.reduce((sum, [s, n]) => sum + n * WEIGHTS[s], 0) + fixable * FIXABLE_WEIGHT + exploited * KNOWN_EXPLOITED_WEIGHT;
      if (!imagePoints) continue;
      points += imagePoints;
      const sev = by.filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(', ');
      const extra = [fixable ? `${fixable} fixable` : '', exploited ? `${exploited} known exploited` : ''].filter(Boolean).join(', ');
      details.push(`image ${image.name ?? image.digest}: ${sev || 'vulnerabilities'}${extra ? ` (${extra})` : ''}`);
    }
    return { score: saturate(points, SATURATION, MAX), details };
  },
};
