/**
 * The sensor's publishing path, alone in a process so that a test can kill -9 it: events go
 * through eventShipperFor (the disk spool and the EventShipper the sensor uses) to the
 * BusPublisher, exactly as `gatehouse sensor --nats` sends its alerts; only the source of
 * the events differs (generated here instead of bpftrace + Falco rules). Every id
 * JetStream acknowledges is appended to the ack file before the spool is told.
 *
 * argv[2]: JSON {nats, spoolDir, ackFile, tag, rate, count, cluster?}
 */
import { appendFileSync } from 'node:fs';
import { BusPublisher } from '../../src/central/client/bus-publisher.js';
import { eventShipperFor } from '../../src/cli/central-push.js';

const o = JSON.parse(process.argv[2]!) as { nats: string; spoolDir: string; ackFile: string; tag: string; rate: number; count: number; cluster?: string };
const publisher = new BusPublisher({
  url: o.nats,
  timeoutMs: 3000,
  onAck: (stored, duplicates) => {
    const lines = [...stored.map((id) => `acked;${id}`), ...duplicates.map((id) => `duplicate;${id}`)];
    if (lines.length) appendFileSync(o.ackFile, `${lines.join('\n')}\n`);
  },
});
const handle = eventShipperFor(publisher, { kind: 'sensor', host: 'bus-test-host', cluster: o.cluster ?? 'bus-test' }, o.spoolDir, {
  flushIntervalMs: 50,
  log: (level, m) => process.stderr.write(`${level}: ${m}\n`),
});

let n = 0;
const started = Date.now();
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(o.count, Math.floor(((Date.now() - started) / 1000) * o.rate));
    for (; n < due; n++) {
      handle.shipper.submit({
        id: `pub:${o.tag}:${n}`,
        type: 'alert',
        time: new Date().toISOString(),
        finding: { id: 'bus-test-rule', kind: 'runtime', severity: 'LOW', title: `event ${n} of ${o.tag}`, resource: { host: 'bus-test-host' } },
        data: { n, tag: o.tag },
      });
    }
    if (n >= o.count) {
      clearInterval(tick);
      resolve();
    }
  }, 20);
});
// Everything submitted: wait until the spool has handed all of it to NATS.
await new Promise((r) => setImmediate(r)); // the last submits reach the spool
for (;;) {
  const s = handle.shipper.stats();
  if (s.pendingEvents === 0) break;
  await new Promise((r) => setTimeout(r, 100));
}
process.stderr.write(`publisher ${o.tag}: done, ${n} submitted\n`);
await handle.close(5000);
