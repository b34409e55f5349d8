/**
 * `gatehouse incidents list [--severity --state --host --workload --tactic]|show ID`: Central's
 * correlated incidents (GET /api/v1/incidents,
 * GET /api/v1/incidents/{id}) as a table or JSON.
 */
import { Option, type Command } from 'commander';
import type { CentralClient } from '../../central/client/client.js';
import type { Incident } from '../../runtime/incidents/types.js';
import { renderGrid } from '../../report/grid.js';
import { UserError } from '../../util/errors.js';
import { addCentralOptions, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { formatOption, outputOption, severityOption, writeOutput } from '../report-options.js';

type Options = CentralCliOptions & { format: 'table' | 'json'; output?: string };

async function withClient<T>(o: CentralCliOptions, call: (client: CentralClient) => Promise<T>): Promise<T> {
  const client = requireCentralClient(o);
  try {
    return await call(client);
  } finally {
    await client.close();
  }
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UserError(`--limit takes a whole number from 1 to 100000, not "${v}"`, 'usage');
  return n;
}

function listTable(items: Incident[]): string {
  const rows = items.map((i) => [i.id, i.severity, i.state, i.stage, i.tactics.map((t) => t.name).join(', '), i.hosts.join(', '), String(i.signals), i.lastSeen, i.title]);
  return `${renderGrid(['ID', 'SEVERITY', 'STATE', 'STAGE', 'TACTICS', 'HOSTS', 'SIGNALS', 'LAST SEEN', 'TITLE'], rows)}\n`;
}

function showText(i: Incident): string {
  const lines = [
    `${i.id}  ${i.severity}  ${i.state}${i.closedAt ? ` (closed ${i.closedAt})` : ''}`,
    i.title,
    `stage:      ${i.stage}`,
    `tactics:    ${i.tactics.map((t) => `${t.name} (${t.id})`).join(', ') || '-'}`,
    `techniques: ${i.techniques.map((t) => `${t.id} ${t.name}`).join(', ') || '-'}`,
    `hosts:      ${i.hosts.join(', ') || '-'}`,
    `workloads:  ${i.workloads.join(', ') || '-'}`,
    `seen:       ${i.firstSeen} .. ${i.lastSeen}`,
    '',
  ];
  const rows = i.timeline.map((e) => [e.time, e.layer, e.severity, e.host ?? '', e.title, e.reason]);
  lines.push(renderGrid(['TIME', 'LAYER', 'SEVERITY', 'HOST', 'WHAT', 'WHY'], rows));
  if (i.timelineDropped) lines.push(`(${i.timelineDropped} later timeline entries not kept)`);
  return `${lines.join('\n')}\n`;
}

export function registerIncidentsCommands(program: Command): void {
  const group = program.command('incidents').description("Central's correlated incidents (alerts, audit log, denials and flows grouped into attacks)");
  addCentralOptions(
    group.command('list').description('list incidents, most recently active first')
      .addOption(formatOption(['table', 'json']))
      .addOption(outputOption('list'))
      .addOption(severityOption())
      .addOption(new Option('--state <state>', 'only open or closed incidents').choices(['open', 'closed']))
      .addOption(new Option('--host <host>', 'only incidents with this host among their hosts'))
      .addOption(new Option('--workload <identity>', 'only incidents involving this workload (k8s:CLUSTER/NS/KIND/NAME[/CONTAINER] or host:HOST/IMAGE/CONTAINER)'))
      .addOption(new Option('--tactic <tactic>', 'only incidents that reached this ATT&CK tactic (id TA0002, name "Execution" or tag mitre_execution)'))
      .addOption(new Option('--limit <n>', 'at most this many').default(100).argParser(parseLimit)),
  ).action(async (o: Options & { severity?: string; state?: string; host?: string; workload?: string; tactic?: string; limit: number }) => {
    const filters = { severity: o.severity, state: o.state, host: o.host, workload: o.workload, tactic: o.tactic };
    const given = Object.fromEntries(Object.entries(filters).filter((e): e is [string, string] => e[1] !== undefined));
    const items: Incident[] = [];
    await withClient(o, async (c) => {
      let cursor: string | undefined;
      do {
        const page = await c.get<{ items: Incident[]; nextCursor: string | null }>('/api/v1/incidents', {
          limit: Math.min(1000, o.limit - items.length), ...given, ...(cursor ? { cursor } : {}),
        });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && items.length < o.limit);
    });
    await writeOutput(o.format === 'json' ? `${JSON.stringify(items, null, 2)}\n` : listTable(items), o);
  });
  addCentralOptions(
    group.command('show').description('one incident: tactics, techniques, hosts, workloads and its timeline')
      .argument('<id>', 'the incident id (see `incidents list`)')
      .addOption(formatOption(['table', 'json']))
      .addOption(outputOption('incident')),
  ).action(async (id: string, o: Options) => {
    const inc = await withClient(o, (c) => c.get<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}`));
    await writeOutput(o.format === 'json' ? `${JSON.stringify(inc, null, 2)}\n` : showText(inc), o);
  });
}
