/** Reads up to `maxPages` pages of a list route: for summaries the API does not count yet. */
import { api, type Page } from './client';

export async function collect<T>(path: string, maxPages = 10, limit = 1000): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await api<Page<T>>('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}
