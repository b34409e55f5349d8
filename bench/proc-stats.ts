/** What the sensor benchmarks read of a process from /proc: its CPU time, RSS and child processes. */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS = 100; // USER_HZ

/** CPU seconds of a process, all its threads (user + system); 0 once it is gone. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** Resident memory in MiB; 0 once it is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Direct children of every thread of a process (bpftrace under the sensor). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // thread gone
    }
  }
  return out;
}

/** CPU seconds of the PostgreSQL backends serving `dbName` (those alive now). */
export function postgresBackendsCpu(dbName: string): number {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('postgres: ') && cmd.split(' ').includes(dbName)) n += procCpuSeconds(Number(d));
    } catch {
      // gone
    }
  }
  return n;
}
