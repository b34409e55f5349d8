/**
 * `gatehouse registry watch add REPO | list | remove ID`: the repositories Central audits
 * for hygiene (older than six months, unsigned, vulnerable), through /api/v1/registry-watches.
 */
import type { Command } from 'commander';
import type { RegistryWatch } from '../../central/store/registry-watches.js';
import { renderGrid } from '../../report/grid.js';
import { addCentralOptions, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { formatOption } from '../report-options.js';

type FormatOptions = CentralCliOptions & { format: 'table' | 'json' };

/** Adds `watch` under the `registry` group (created by registry.ts, or here when it is not there). */
export function registerRegistryWatchCommands(program: Command): Command {
  const registry = program.commands.find((c) => c.name() === 'registry') ?? program.command('registry').description('registry hygiene');
  const watch = registry.command('watch').description("repositories Central audits for hygiene: older than six months, unsigned, vulnerable");

  addCentralOptions(
    watch
      .command('add')
      .description('watch a repository (REGISTRY/REPOSITORY; a glob such as registry.example.com/team/** watches every repository under team)')
      .argument('<repository>', 'e.g. registry.example.com/team/app')
      .addOption(formatOption(['table', 'json'])),
  ).action(async (repository: string, o: FormatOptions) => {
    const w = await withClient(o, (c) => c.post<RegistryWatch>('/api/v1/registry-watches', { repository }));
    if (o.format === 'json') process.stdout.write(`${JSON.stringify(w)}\n`);
    else process.stdout.write(`watching ${w.target} (id ${w.id})\n`);
  });

  addCentralOptions(
    watch
      .command('list')
      .description('list the watched repositories and their last audit')
      .addOption(formatOption(['table', 'json'])),
  ).action(async (o: FormatOptions) => {
    const { items } = await withClient(o, (c) => c.get<{ items: RegistryWatch[] }>('/api/v1/registry-watches'));
    if (o.format === 'json') {
      process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      return;
    }
    const rows = items.map((w) => [w.id, w.target, w.lastRunAt ?? 'not yet', w.tags === null ? '-' : String(w.tags), w.lastError ?? '']);
    process.stdout.write(`${renderGrid(['ID', 'REPOSITORY', 'LAST AUDIT', 'TAGS', 'ERROR'], rows)}\n`);
  });

  addCentralOptions(
    watch
      .command('remove')
      .description('stop watching a repository by its id (see `registry watch list`); its hygiene findings go')
      .argument('<id>', 'the watch id'),
  ).action(async (id: string, o: CentralCliOptions) => {
    await withClient(o, (c) => c.delete(`/api/v1/registry-watches/${encodeURIComponent(id)}`));
    process.stderr.write(`stopped watching ${id}\n`);
  });
  return watch;
}

async function withClient<T>(o: CentralCliOptions, call: (client: ReturnType<typeof requireCentralClient>) => Promise<T>): Promise<T> {
  const client = requireCentralClient(o);
  try {
    return await call(client);
  } finally {
    await client.close();
  }
}
