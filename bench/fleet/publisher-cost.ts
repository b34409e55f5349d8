/**
 * What the fleet's publishing costs without Central: one publisher process (publisher.ts, the
 * nodes' sensors) against a fresh nats-server (JetStream, file store) at --rate events/s for
 * --seconds. Prints, per acknowledged event, the publisher's CPU (whole process: start-up and
 * the fleet model included) and nats-server's CPU over the same run, and the JetStream
 * messages the events went in. --tree DIR runs DIR/bench/fleet/publisher.ts instead (another
 * checkout, for before/after pairs).
 *
 *   node --import tsx bench/fleet/publisher-cost.ts [--rate 5000] [--seconds 15] [--nodes 1000] [--deployments 15000] [--tree DIR]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BUS_STREAM } from '../../src/central/client/bus-stream.js';
import { startNats } from '../../test/bus/helpers.js';
import { procCpuSeconds } from '../proc-stats.js';
import type { PublisherArgs, PublisherCounters } from './publisher.js';

const arg = (flag: string) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const num = (flag: string, dflt: number) => Number(arg(flag) ?? dflt);
const tree = arg('--tree') ?? join(import.meta.dirname, '..', '..');

const nats = await startNats();
try {
  const args: PublisherArgs = { nats: nats.url, cluster: 'cost', run: `cost-${Date.now().toString(36)}`, index: 0, of: 1, rate: num('--rate', 5000), seconds: num('--seconds', 15), flowShare: 0.3, nodes: num('--nodes', 1000), deployments: num('--deployments', 15_000), seed: 21 };
  const nats0 = procCpuSeconds(nats.pid());
  const child = spawn(process.execPath, ['--import', 'tsx', join(tree, 'bench', 'fleet', 'publisher.ts'), JSON.stringify(args)], { cwd: tree, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  if (code !== 0) throw new Error(`publisher exited ${code}`);
  const natsCpu = procCpuSeconds(nats.pid()) - nats0;
  const c = JSON.parse(out.trim().split('\n').pop()!) as PublisherCounters;
  const nc = await connect({ servers: nats.url });
  const messages = (await (await jetstreamManager(nc)).streams.info(BUS_STREAM)).state.messages;
  await nc.close();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`${tree}: ${c.acked} acknowledged of ${c.offered} offered (${c.behind} not made, ${c.failed} failed) in ${messages} messages (${(c.acked / messages).toFixed(1)} events each)`);
  console.log(`CPU ms per acknowledged event: publisher ${((c.cpuSeconds * 1000) / c.acked).toFixed(4)}, nats-server ${((natsCpu * 1000) / c.acked).toFixed(4)}; load ${load}`);
} finally {
  await nats.stop();
}
