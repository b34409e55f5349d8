/**
 * The images themselves: staleness (StackRox's "Image Freshness": no risk under 90 days,
 * full at 270), missing signatures, secrets baked into the filesystem, and how many images
 * the deployment runs (each one more to patch and watch).
 */
import { count, distinctImages, plural, saturate } from './scale.js';
import type { FactorContext, FactorResult, RiskFactor } from './types.js';

const DAY_MS = 86_400_000;
const AGE_FLOOR_DAYS = 90;
const AGE_CEIL_DAYS = 270;
const AGE_MAX_POINTS = 4;
const UNSIGNED = 3;
const SECRET = 3;
const EXTRA_IMAGE = 1;
const SATURATION = 12;
const MAX = 2;

export const imageFactor: RiskFactor = {
  name: 'image',
  evaluate(ctx: FactorContext): FactorResult {
    let points = 0;
    const details: string[] = [];
    const images = distinctImages(ctx.images);
    for (const image of images) {
      const name = image.name ?? image.digest;
      const created = image.created ? Date.parse(image.created) : NaN;
      if (Number.isFinite(created)) {
        const days = Math.floor((ctx.now.getTime() - created) / DAY_MS);
        if (days > AGE_FLOOR_DAYS) {
          points += ((Math.min(days, AGE_CEIL_DAYS) - AGE_FLOOR_DAYS) / (AGE_CEIL_DAYS - AGE_FLOOR_DAYS)) * AGE_MAX_POINTS;
          details.push(`image ${name} is ${days} days old`);
        }
      }
      if (image.signed === false) {
        points += UNSIGNED;
        details.push(`image ${name} is not signed`);
      }
      const secrets = count(image.secrets);
      if (secrets) {
        points += secrets * SECRET;
        details.push(`image ${name} contains ${plural(secrets, 'secret')}`);
      }
    }
    if (images.length > 1) {
      points += (images.length - 1) * EXTRA_IMAGE;
      details.push(`${images.length} images`);
    }
    return { score: saturate(points, SATURATION, MAX), details };
  },
};
