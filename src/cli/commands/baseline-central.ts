/**
 * `gatehouse baseline … --server URL`: the baselines Central keeps merged over every sensor
 * (src/central/api/baselines.ts), with the same outputs as the local ones.
 */
import type { CentralClient } from '../../central/client/client.js';
import { renderGrid } from '../../report/index.js';

interface ListItem {
  workload: string;
  state: string;
  learnUntil?: string;
  lockedAt?: string;
  observations: number;
  items: Record<string, number>;
  deviations: number;
  hosts: string[];
}

interface DetailBody {
  workload: string;
  state: string;
  learnUntil?: string;
  lockedAt?: string;
  learnMs: number;
  observations: number;
  threshold?: number;
  targetPerDay?: number;
  replicas: string[];
  hosts: Array<{ host: string; updatedAt: string; deviations: number }>;
  items: Record<string, Array<{ item: string; count: number }>>;
  deviations: Array<{ item: string; score: number; count: number; hosts: string[]; replicas: string[]; lastSeen: string }>;
}

interface Lifecycle {
  workload: string;
  state: string;
  changed: boolean;
  lockedAt?: string;
  learnUntil?: string;
  threshold?: number;
  learnMs: number;
  observations: number;
  accepted?: string[];
}

const path = (workload: string, action = '') => `/api/v1/baselines/${encodeURIComponent(workload)}${action ? `/${action}` : ''}`;

export function centralBaselineCommands(client: CentralClient) {
  const done = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } finally {
      await client.close();
    }
  };
  return {
    list: (format: 'table' | 'json') => done((async () => {
      const items: ListItem[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.get<{ items: ListItem[]; nextCursor: string | null }>('/api/v1/baselines', { limit: 1000, cursor });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      if (format === 'json') return `${JSON.stringify(items, null, 2)}\n`;
      if (!items.length) return `no baselines in Central at ${client.server}\n`;
      return `${renderGrid(['WORKLOAD', 'STATE', 'EVENTS', 'ITEMS', 'DEVIATIONS', 'HOSTS'], items.map((r) => [
        r.workload, r.state === 'locked' ? 'locked' : `learning${r.learnUntil ? ` until ${r.learnUntil}` : ''}`, String(r.observations),
        String(Object.values(r.items).reduce((a, b) => a + b, 0)), String(r.deviations), r.hosts.join(','),
      ]))}\n`;
    })()),

    show: (workload: string, format: 'table' | 'json') => done((async () => {
      const b = await client.get<DetailBody>(path(workload));
      if (format === 'json') return `${JSON.stringify(b, null, 2)}\n`;
      const items = Object.entries(b.items).flatMap(([ch, list]) => list.map((i) => [ch, i.item, String(i.count)]));
      const lines = [
        `workload:  ${b.workload} (Central ${client.server})`,
        `state:     ${b.state}${b.lockedAt ? ` (locked ${b.lockedAt})` : b.learnUntil ? ` (until ${b.learnUntil}; a ${b.learnMs / 1000}s observation window)` : ` (a ${b.learnMs / 1000}s observation window)`}`,
        `events:    ${b.observations}; replicas seen: ${b.replicas.length}; hosts: ${b.hosts.map((h) => h.host).join(', ') || '-'}`,
        `threshold: ${b.threshold !== undefined ? `${b.threshold} bits (target ${(b.targetPerDay ?? 0).toFixed(2)} false positives/day)` : 'set when it locks'}`,
        '',
        items.length ? renderGrid(['CHANNEL', 'ITEM', 'COUNT'], items, { maxWidth: 100 }) : 'no items learned',
        '',
        b.deviations.length
          ? renderGrid(['DEVIATION (accept with: baseline accept WORKLOAD ITEM)', 'SCORE', 'COUNT', 'REPLICAS', 'HOSTS', 'LAST SEEN'], b.deviations.map((d) => [d.item, d.score.toFixed(1), String(d.count), String(d.replicas.length), d.hosts.join(','), d.lastSeen]), { maxWidth: 100 })
          : 'no deviations',
      ];
      return `${lines.join('\n')}\n`;
    })()),

    lock: (workload: string) => done((async () => {
      const r = await client.post<Lifecycle>(path(workload, 'lock'), undefined);
      return r.changed ? `locked ${r.workload} in Central (${r.observations} events learned; threshold ${r.threshold} bits); every sensor adopts it at its next sync\n` : `${r.workload} is already locked (${r.lockedAt})\n`;
    })()),

    unlock: (workload: string) => done((async () => {
      const r = await client.post<Lifecycle>(path(workload, 'unlock'), undefined);
      return r.changed ? `unlocked ${r.workload} in Central: learning for ${r.learnMs / 1000}s of activity from every sensor's next sync\n` : `${r.workload} is already learning\n`;
    })()),

    accept: (workload: string, item: string | undefined) => done((async () => {
      const r = await client.post<Lifecycle>(path(workload, 'accept'), item === undefined ? {} : { item });
      const n = r.accepted?.length ?? 0;
      return n ? `accepted ${n} deviation(s) into ${r.workload} in Central\n` : `${r.workload} has no deviations to accept\n`;
    })()),
  };
}
