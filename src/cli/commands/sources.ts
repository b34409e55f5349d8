/**
 * `gatehouse cluster add|list|remove` and `gatehouse host add|list|remove`: what Central
 * watches, through /api/v1/clusters and /api/v1/hosts. A cluster's kubeconfig is read here
 * and sent (one context, sealed in Central's store); a host is its engine's endpoint.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CentralClient } from '../../central/client/client.js';
import { renderGrid } from '../../report/grid.js';
import { UserError, describeError } from '../../util/errors.js';
import { addCentralOptions, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { formatOption } from '../report-options.js';

interface SourceRow { id: string; name: string; state: string; message: string | null; deployments: number; firstSeen: string; lastSeen: string }

type FormatOptions = CentralCliOptions & { format: 'table' | 'json' };

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${file}: ${describeError(e)}`, 'usage');
  }
}

async function withClient<T>(o: CentralCliOptions, call: (client: CentralClient) => Promise<T>): Promise<T> {
  const client = requireCentralClient(o);
  try {
    return await call(client);
  } finally {
    await client.close();
  }
}

function listAndRemove(group: Command, plural: 'clusters' | 'hosts'): void {
  addCentralOptions(group.command('list').description(`list the ${plural} Central watches`).addOption(formatOption(['table', 'json'])))
    .action(async (o: FormatOptions) => {
      const { items } = await withClient(o, (c) => c.get<{ items: SourceRow[] }>(`/api/v1/${plural}`));
      if (o.format === 'json') {
        process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        return;
      }
      const rows = items.map((s) => [s.id, s.name, s.state, String(s.deployments), s.lastSeen, s.message ?? '']);
      process.stdout.write(`${renderGrid(['ID', 'NAME', 'STATE', 'DEPLOYMENTS', 'LAST SEEN', 'MESSAGE'], rows)}\n`);
    });
  addCentralOptions(group.command('remove').description(`stop watching a ${plural.slice(0, -1)} and forget its inventory`).argument('<id>', `the id (see \`${plural.slice(0, -1)} list\`)`))
    .action(async (id: string, o: CentralCliOptions) => {
      await withClient(o, (c) => c.delete(`/api/v1/${plural}/${encodeURIComponent(id)}`));
      process.stderr.write(`removed ${id}\n`);
    });
}

export function registerSourceCommands(program: Command): void {
  const cluster = program.command('cluster').description('Kubernetes clusters Central lists and watches');
  addCentralOptions(
    cluster.command('add')
      .description('watch a cluster: its workloads, Services, Ingresses, NetworkPolicies, RBAC and Nodes')
      .argument('<name>', 'a name for the cluster')
      .option('--kubeconfig <file>', 'kubeconfig to reach it (default: $KUBECONFIG, then ~/.kube/config)')
      .option('--context <name>', 'context of the kubeconfig (default: its current context)')
      .option('--in-cluster', "Central runs in this cluster: use its pod's service account"),
  ).action(async (name: string, o: CentralCliOptions & { kubeconfig?: string; context?: string; inCluster?: boolean }) => {
    if (o.inCluster && (o.kubeconfig || o.context)) throw new UserError('--in-cluster takes no --kubeconfig or --context', 'usage');
    const file = o.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0] ?? `${process.env.HOME ?? ''}/.kube/config`;
    const body = o.inCluster ? { name, inCluster: true } : { name, kubeconfig: readText(file, 'kubeconfig'), ...(o.context ? { context: o.context } : {}) };
    const created = await withClient(o, (c) => c.post<{ id: string }>('/api/v1/clusters', body));
    process.stderr.write(`watching cluster ${name} (${created.id})\n`);
  });
  listAndRemove(cluster, 'clusters');

  const host = program.command('host').description('plain Docker/podman hosts Central watches');
  addCentralOptions(
    host.command('add')
      .description("watch a host's containers and images through its engine API")
      .argument('<name>', 'a name for the host')
      .argument('<endpoint>', 'unix:///run/podman/podman.sock, unix:///var/run/docker.sock or tcp://HOST:PORT')
      .option('--tls-ca <file>', "CA that signed the engine's certificate (tcp://)")
      .option('--tls-cert <file>', 'client certificate for the engine (tcp://)')
      .option('--tls-key <file>', 'client key for the engine (tcp://)'),
  ).action(async (name: string, endpoint: string, o: CentralCliOptions & { tlsCa?: string; tlsCert?: string; tlsKey?: string }) => {
    if (!/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+\/?)$/.test(endpoint)) throw new UserError(`endpoint "${endpoint}": expected unix:///PATH or tcp://HOST:PORT`, 'usage');
    if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new UserError('--tls-cert and --tls-key go together', 'usage');
    const tls = o.tlsCa || o.tlsCert
      ? { ...(o.tlsCa ? { ca: readText(o.tlsCa, 'CA') } : {}), ...(o.tlsCert ? { cert: readText(o.tlsCert, 'certificate'), key: readText(o.tlsKey!, 'key') } : {}) }
      : undefined;
    const created = await withClient(o, (c) => c.post<{ id: string }>('/api/v1/hosts', { name, endpoint, ...(tls ? { tls } : {}) }));
    process.stderr.write(`watching host ${name} (${created.id})\n`);
  });
  listAndRemove(host, 'hosts');
}
