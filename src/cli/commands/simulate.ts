/**
 * `gatehouse simulate` (hidden): the fleet simulator of issue 21. It drives real Central
 * processes, a real NATS JetStream and a real PostgreSQL with a synthetic fleet — nodes,
 * workloads, pods, images with SBOMs, and the nodes' event streams — deterministic from a
 * seed, and prints what Central sustained. Its engine is benchmark code (bench/fleet/),
 * loaded only here and only from a source checkout, so the product never imports it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

interface SimulateCliOptions {
  nats: string;
  database: string;
  nodes: string;
  deployments: string;
  eventsPerSec: string;
  seconds: string;
  seed: string;
  centrals: string;
  publishers: string;
  flowShare: string;
  format: 'table' | 'json';
}

/** What this command needs of bench/fleet/simulate.ts (typed here: the product's build does not compile bench/). */
interface FleetEngine {
  runFleet(o: Record<string, unknown>): Promise<Record<string, unknown>>;
  describeFigures(f: Record<string, unknown>, eventsPerSec: number): string[];
}

function positiveInt(value: string, flag: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UserError(`${flag} must be a whole number from 1 to ${max}, got '${value}'`, 'usage');
  return n;
}

export function registerSimulateCommands(program: Command): void {
  program
    .command('simulate', { hidden: true })
    .description('drive real Centrals, NATS JetStream and PostgreSQL with a simulated fleet (benchmark tool; source checkout only)')
    .requiredOption('--nats <url>', 'nats://HOST:PORT of a JetStream-enabled nats-server')
    .requiredOption('--database <url>', 'postgres://… of an empty database (the Centrals and the inventory go there)')
    .option('--nodes <n>', 'nodes, each with its sensor', '1000')
    .option('--deployments <n>', 'top-level workloads (3 pods each)', '15000')
    .option('--events-per-sec <n>', 'events offered per second by all the nodes together', '10000')
    .option('--seconds <n>', 'how long the nodes publish', '60')
    .option('--seed <n>', 'the fleet and its events follow from it', '1')
    .option('--centrals <n>', 'Central processes sharing the database and the bus', '1')
    .option('--publishers <n>', 'publisher processes the nodes are spread over', '2')
    .option('--flow-share <x>', 'share of flow events (the rest are alerts)', '0.3')
    .option('--format <format>', 'table or json', 'table')
    .action(async (o: SimulateCliOptions) => {
      const flowShare = Number(o.flowShare);
      if (!(flowShare >= 0 && flowShare <= 1)) throw new UserError(`--flow-share must be between 0 and 1, got '${o.flowShare}'`, 'usage');
      if (o.format !== 'table' && o.format !== 'json') throw new UserError(`--format must be table or json, got '${o.format}'`, 'usage');
      if (!/^postgres(ql)?:\/\//.test(o.database)) throw new UserError('--database must be a postgres://… URL (the simulator measures Central on PostgreSQL)', 'usage');
      if (!/^(nats|tls):\/\//.test(o.nats)) throw new UserError('--nats must be a nats://HOST:PORT URL', 'usage');
      const options = {
        nats: o.nats, database: o.database,
        nodes: positiveInt(o.nodes, '--nodes', 100_000), deployments: positiveInt(o.deployments, '--deployments', 200_000),
        eventsPerSec: positiveInt(o.eventsPerSec, '--events-per-sec', 1_000_000), seconds: positiveInt(o.seconds, '--seconds', 86_400),
        seed: positiveInt(o.seed, '--seed', 2 ** 31 - 1), centrals: positiveInt(o.centrals, '--centrals', 16), publishers: positiveInt(o.publishers, '--publishers', 64),
        flowShare,
        log: (line: string) => process.stderr.write(`simulate: ${line}\n`),
      };
      const enginePath = fileURLToPath(new URL('../../../bench/fleet/simulate.ts', import.meta.url));
      if (!existsSync(enginePath)) throw new UserError('gatehouse simulate runs from a source checkout (bench/fleet/ is not part of the installed package)', 'usage');
      let engine: FleetEngine;
      try {
        engine = (await import(enginePath)) as FleetEngine;
      } catch (e) {
        throw new UserError(`cannot load the fleet simulator (run it from a source checkout with its dev dependencies): ${(e as Error).message.split('\n')[0]}`, 'usage');
      }
      const figures = await engine.runFleet(options);
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(figures)}\n`);
      else process.stdout.write(`${engine.describeFigures(figures, options.eventsPerSec).join('\n')}\n`);
    });
}
