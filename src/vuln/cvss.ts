/** CVSS v2 / v3.0 / v3.1 / v4.0 vectors → base score and qualitative rating (ae-cvss-calculator). */
import cvssLib from 'ae-cvss-calculator';
import type { Severity } from '../findings/finding.js';

const { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } = cvssLib;

export interface CvssScore {
  version: '2.0' | '3.0' | '3.1' | '4.0';
  vector: string;
  score: number;
  rating: Severity;
}

/** FIRST's qualitative scale (v3/v4); v2 has no CRITICAL band and no NONE. */
export function ratingOf(score: number, version: CvssScore['version']): Severity {
  if (version === '2.0') return score >= 7 ? 'HIGH' : score >= 4 ? 'MEDIUM' : 'LOW';
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'UNKNOWN';
}

/** Scores a vector; undefined when it is not a valid CVSS vector. */
export function scoreVector(vector: string): CvssScore | undefined {
  const v = vector.trim();
  try {
    let version: CvssScore['version'];
    let base: number | undefined;
    if (v.startsWith('CVSS:4.0/')) {
      version = '4.0';
      base = new Cvss4P0(v).calculateScores().base;
    } else if (v.startsWith('CVSS:3.1/')) {
      version = '3.1';
      base = new Cvss3P1(v).calculateScores().base;
    } else if (v.startsWith('CVSS:3.0/')) {
      version = '3.0';
      base = new Cvss3P0(v).calculateScores().base;
    } else if (/^\(?AV:[LAN]\/AC:[HML]\/Au:[MSN]\//.test(v)) {
      version = '2.0';
      base = new Cvss2(v.replace(/^\(|\)$/g, '')).calculateScores().base;
    } else {
      return undefined;
    }
    if (typeof base !== 'number' || Number.isNaN(base)) return undefined;
    return { version, vector: v, score: base, rating: ratingOf(base, version) };
  } catch {
    return undefined;
  }
}
