import { UserError } from '../../util/errors.js';

/** `90s`, `15m`, `1h`, `1h30m`, `2d` or a plain number of seconds → milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const v = Number(t) * 1000;
    if (v > 0) return v;
  }
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let rest = t;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) throw new UserError(`${what} must look like 90s, 15m, 1h or 1h30m, got '${text}'`, 'usage');
    total += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (!(total > 0)) throw new UserError(`${what} must be positive, got '${text}'`, 'usage');
  return total;
}
