/**
 * `npm run bench:scale [-- --quick] [--rate N] [--seconds S] [--sizes 1000,5000,15000] [--centrals N] [--publishers N] [--flow-share 0.3] [--from-source]`:
 * issue 21's benchmark on this machine. For each fleet size (1k, 5k and 15k deployments,
 * 3 pods each, 1,000 nodes), a fresh PostgreSQL database and nats-server (JetStream, file
 * store), then the fleet simulator (bench/fleet/simulate.ts): real `gatehouse server --nats
 * --database` processes, the fleet's images pushed over the API, its inventory stored and
 * evaluated, and publisher processes for the nodes' sensors at the offered rate while the
 * risk list and deployment details are asked for. Each figure is printed beside its goal or
 * the anchor's published sizing, and a last table shows how they grow with the fleet.
 * --cpu-prof-dir DIR profiles the Centrals. --quick: 1,000 deployments, 2,000 events/s for 15 s (a smoke run of a few minutes).
 * The anchor: RHACS sizes Central for under 50k deployments at 6 cores / 16 GiB, plus
 * 32 cores / 32 GiB for its PostgreSQL; this runs on 2 cores shared with everything else.
 */
import { cpus, totalmem } from 'node:os';
import { freshDatabase, postgresAvailable } from '../test/helpers/postgres.js';
import { natsSkip, startNats } from '../test/bus/helpers.js';
import { describeFigures, runFleet, type FleetFigures } from './fleet/simulate.js';
import { compiledCli } from './compiled-cli.js';
import { tableSizes } from './scale-table-sizes.js';

const quick = process.argv.includes('--quick');
const arg = (flag: string) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const num = (flag: string, dflt: number) => (arg(flag) === undefined ? dflt : Number(arg(flag)));
const RATE = num('--rate', quick ? 2_000 : 10_000);
const SECONDS = num('--seconds', quick ? 15 : 60);
const SIZES = (arg('--sizes') ?? (quick ? '1000' : '1000,5000,15000')).split(',').map(Number);
const NODES = num('--nodes', 1000);
const CENTRALS = num('--centrals', 1);
const PUBLISHERS = num('--publishers', 2);
const SEED = num('--seed', 21);
const FLOW_SHARE = num('--flow-share', 0.3);
/** --cpu-prof-dir DIR: the Centrals run with node's --cpu-prof, their profiles written there at their stop. */
const CPU_PROF_DIR = arg('--cpu-prof-dir');
/** --from-source: the Centrals run through tsx; by default compiled, as an install runs them (bench/compiled-cli.ts). */
const FROM_SOURCE = process.argv.includes('--from-source');

const skip = natsSkip() || (!(await postgresAvailable()) && 'PostgreSQL not reachable (run .ci/setup.d/80-postgres.sh)');
if (skip) {
  console.log(`bench:scale skipped: ${skip}`);
  process.exit(0);
}

console.log(`bench:scale: ${NODES} nodes, sizes ${SIZES.join(', ')} deployments, ${RATE} events/s offered for ${SECONDS} s, ${CENTRALS} Central(s), ${PUBLISHERS} publisher processes, flow share ${FLOW_SHARE}; ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (shared)\n`);
const results: FleetFigures[] = [];
for (const deployments of SIZES) {
  const db = await freshDatabase();
  const nats = await startNats();
  try {
    const f = await runFleet({ nats: nats.url, natsPid: nats.pid(), database: db.url, nodes: NODES, deployments, eventsPerSec: RATE, seconds: SECONDS, seed: SEED, centrals: CENTRALS, publishers: PUBLISHERS, flowShare: FLOW_SHARE, ...(FROM_SOURCE ? {} : { centralEntry: compiledCli() }), ...(CPU_PROF_DIR ? { centralNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] } : {}), log: (l) => console.log(`  [${deployments}] ${l}`) });
    results.push(f);
    console.log(`\n${describeFigures(f, RATE).join('\n')}\n`);
    if (process.argv.includes('--table-sizes')) console.log(`${(await tableSizes(db.url, f.stored)).join('\n')}\n`);
  } finally {
    await nats.stop();
    await db.drop().catch((e: Error) => console.log(`could not drop ${db.name}: ${e.message}`));
  }
}

if (results.length > 1) {
  console.log('how the figures grow with the fleet:\n');
  const cols = results.map((r) => `${r.deployments} deployments`.padEnd(24));
  const row = (k: string, v: (r: FleetFigures) => string) => console.log(`${k.padEnd(30)} ${results.map((r) => v(r).padEnd(24)).join(' ')}`);
  console.log(`${''.padEnd(30)} ${cols.join(' ')}`);
  row('evaluation (setup)', (r) => `${r.evaluationSeconds.toFixed(1)} s`);
  row('stored while publishing', (r) => `${r.storedPerSecDuringLoad.toFixed(0)}/s`);
  row('stored end to end', (r) => `${r.storedPerSecEndToEnd.toFixed(0)}/s`);
  row('lag p99', (r) => `${r.lagSeconds.p99.toFixed(2)} s`);
  row('risk list p99', (r) => `${r.riskList.p99.toFixed(0)} ms`);
  row('detail p99', (r) => `${r.detail.p99.toFixed(0)} ms`);
  row('PostgreSQL B/event', (r) => r.dbBytesPerEvent.toFixed(0));
  row('Central RSS peak', (r) => `${Math.max(...r.centralRssPeakMiB).toFixed(0)} MiB`);
  row('Central CPU ms/event', (r) => r.cpuMsPerEvent.central.toFixed(3));
  row('PostgreSQL CPU ms/event', (r) => r.cpuMsPerEvent.postgres.toFixed(3));
  row('publishers CPU ms/event', (r) => r.cpuMsPerEvent.publishers.toFixed(3));
  row('nats-server CPU ms/event', (r) => (Number.isNaN(r.cpuMsPerEvent.nats) ? 'not measured' : r.cpuMsPerEvent.nats.toFixed(3)));
}
