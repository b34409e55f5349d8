/** What image fields read: the facts of one image, and the element a per-element policy is checking. */
import type { FieldDef } from '../../policy/fields.js';
import type { ImageCheck, ImageComponent, ImageFacts, ImageSecret, ImageVulnerability } from '../image-facts.js';

export interface ImageContext {
  facts: ImageFacts;
  /** facts.now in ms (ages are computed against it). */
  nowMs: number;
  vulnerability?: ImageVulnerability;
  component?: ImageComponent;
  secret?: ImageSecret;
  check?: ImageCheck;
}

/** The root target is the image; the others are evaluated once per element. */
export type ImageTarget = 'image' | 'vulnerability' | 'component' | 'secret' | 'check';
export type ImageFieldDef = FieldDef<ImageContext> & { target: ImageTarget };

export const DAY_MS = 86_400_000;

/** Whole days from an ISO date to now (undefined when the date is unknown or unreadable). */
export function daysSince(iso: string | undefined, nowMs: number): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.floor((nowMs - t) / DAY_MS) : undefined;
}
