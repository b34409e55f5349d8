/**
 * bench:scale --table-sizes: each table of the run's database (heap, indexes, TOAST, live and
 * dead rows) and its bytes per stored event, to say what PostgreSQL's growth per event is made
 * of. The tables the events fill (events, flow_*, incidents) start empty, so theirs is the
 * run's growth; the inventory's (objects, deployments, violations) include the setup.
 */
import pg from 'pg';

export async function tableSizes(url: string, stored: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Statistics are sent by backends at most once a second or so: give them a moment.
    await new Promise((r) => setTimeout(r, 1500));
    const { rows } = await client.query<{ t: string; heap: string; idx: string; toast: string; live: string; dead: string }>(`
      select c.relname as t, pg_relation_size(c.oid) as heap, pg_indexes_size(c.oid) as idx,
        coalesce(pg_total_relation_size(c.reltoastrelid), 0) as toast, s.n_live_tup as live, s.n_dead_tup as dead
      from pg_class c join pg_stat_user_tables s on s.relid = c.oid
      where c.relkind = 'r' order by pg_total_relation_size(c.oid) desc limit 14`);
    const mib = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8);
    const out = [`table sizes (MiB) after ${stored} stored events: heap / indexes / TOAST, live / dead rows, total B per stored event`];
    for (const r of rows) {
      const total = Number(r.heap) + Number(r.idx) + Number(r.toast);
      out.push(`  ${r.t.padEnd(22)} ${mib(Number(r.heap))} ${mib(Number(r.idx))} ${mib(Number(r.toast))}  ${String(r.live).padStart(9)} / ${String(r.dead).padEnd(8)} ${(total / Math.max(1, stored)).toFixed(0).padStart(6)} B`);
    }
    return out;
  } finally {
    await client.end();
  }
}
