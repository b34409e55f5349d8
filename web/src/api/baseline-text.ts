/** How the console words baselines (pure, so the browser tests read the same words). */

/** Channels in the order the sensor learns them (src/runtime/baseline/features.ts), named for people. */
export const CHANNEL_NAMES: Record<string, string> = {
  exec: 'Programs', lineage: 'Process lineage', net: 'Network', file: 'Files', sys: 'System calls', seq: 'Call sequences',
};
export const channelName = (ch: string): string => CHANNEL_NAMES[ch] ?? ch;

/** "42 min", "3 h 5 min", "2 days". */
export function duration(ms: number): string {
  const min = Math.max(1, Math.round(ms / 60_000));
  if (min < 60) return `${min} min`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.round(min / 1440)} days`;
}
