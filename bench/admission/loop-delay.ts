/**
 * Preloaded into `admission serve` when bench:admission profiles it
 * (GATEHOUSE_BENCH_ADMISSION_PROFILE): the event loop's delay histogram, printed to the
 * server's log on SIGTERM (the bench keeps that log beside the CPU profile). A stall of the
 * loop (GC, a long synchronous task) delays every request waiting behind it, which is what
 * a p99 sees; the CPU profile alone does not say how long each stall was.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
const ms = (ns: number) => (ns / 1e6).toFixed(2);
process.once('SIGTERM', () => {
  h.disable();
  const p = (q: number) => ms(h.percentile(q));
  process.stderr.write(`event-loop delay: p50 ${p(50)} ms, p99 ${p(99)} ms, p99.9 ${p(99.9)} ms, max ${ms(h.max)} ms, mean ${ms(h.mean)} ms over ${h.count} samples\n`);
});
