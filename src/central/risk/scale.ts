/**
 * A factor's points as a multiplier: 1 with no points, rising linearly to MAX at
 * SATURATION points and staying there (StackRox's risk multipliers have this shape).
 */
export function saturate(points: number, saturation: number, max: number): number {
  if (!(points > 0)) return 1;
  if (points >= saturation) return max;
  return 1 + (points / saturation) * (max - 1);
}

/** A count as a non-negative integer (absent, negative or NaN: 0). */
export function count(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Each image once, the first of each digest (a deployment can run one image in several containers). */
export function distinctImages<T extends { digest: string }>(images: readonly T[]): T[] {
  const seen = new Set<string>();
  return images.filter((image) => !seen.has(image.digest) && (seen.add(image.digest), true));
}
