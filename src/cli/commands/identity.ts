/**
 * `gatehouse identity list`: Central's service identities (GET /api/v1/identities).
 * `gatehouse identity issue WORKLOAD --out-dir DIR`: a short-lived SPIFFE X.509-SVID
 * (svid.pem, svid.key 0600, bundle.pem) from a Gatehouse CA kept in a directory (made on
 * first use), or from Central's CA (--server: the key is made here and only a certificate
 * request is sent). WORKLOAD is a SPIFFE ID, NAMESPACE/SERVICE_ACCOUNT (Kubernetes form),
 * or a NAME of a workload on this host (spiffe://TD/host/HOST/workload/NAME).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { defaultDataDir } from '../../central/data-dir.js';
import type { CentralClient } from '../../central/client/client.js';
import { issueSvid, makeSvidRequest, openSpiffeCa, parseTtl, writeSvidFiles, type IssuedSvid } from '../../identity/ca.js';
import { DEFAULT_TRUST_DOMAIN, checkTrustDomain, hostSpiffeId, kubernetesSpiffeId, requireWorkloadSpiffeId } from '../../identity/spiffe.js';
import type { ServiceIdentity, VulnerabilityCounts } from '../../identity/types.js';
import { renderGrid } from '../../report/grid.js';
import { UserError } from '../../util/errors.js';
import { addCentralOptions, centralClientFrom, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { formatOption, outputOption, writeOutput } from '../report-options.js';

async function withClient<T>(client: CentralClient, call: (client: CentralClient) => Promise<T>): Promise<T> {
  try {
    return await call(client);
  } finally {
    await client.close();
  }
}

const vulns = (v: VulnerabilityCounts | null) => (v ? `C${v.critical} H${v.high} M${v.medium} L${v.low}` : 'not scanned');
const short = (rev: string | undefined) => (rev ? rev.slice(0, 12) : '-');

function listTable(items: ServiceIdentity[]): string {
  const rows = items.map((i) => [
    i.workload.cluster ?? i.workload.host ?? '', i.workload.namespace, `${i.workload.kind}/${i.workload.name}`, i.serviceAccount ?? '-', i.spiffeId ?? '-',
    i.signature, vulns(i.vulnerabilities), short(i.build.revision), i.build.branch ?? '-', i.build.repository ?? '-',
  ]);
  return `${renderGrid(['WHERE', 'NAMESPACE', 'WORKLOAD', 'SERVICE ACCOUNT', 'SPIFFE ID', 'SIGNATURE', 'VULNERABILITIES', 'REVISION', 'BRANCH', 'REPOSITORY'], rows)}\n`;
}

/** The SPIFFE ID a WORKLOAD argument names. */
export function spiffeIdForWorkload(workload: string, trustDomain: string | undefined, host: string): string {
  if (workload.startsWith('spiffe://')) {
    const id = requireWorkloadSpiffeId(workload);
    if (trustDomain && trustDomain !== id.trustDomain) throw new UserError(`${workload} is not in --trust-domain ${trustDomain}`, 'usage');
    return workload;
  }
  const td = checkTrustDomain(trustDomain ?? DEFAULT_TRUST_DOMAIN);
  const parts = workload.split('/');
  if (parts.length === 2) return kubernetesSpiffeId(td, parts[0]!, parts[1]!);
  if (parts.length === 1 && workload) return hostSpiffeId(td, host, workload);
  throw new UserError(`WORKLOAD "${workload}" is not a SPIFFE ID, NAMESPACE/SERVICE_ACCOUNT or a NAME`, 'usage');
}

type IssueOptions = CentralCliOptions & { trustDomain?: string; ttl: string; caDir?: string; outDir: string; host?: string; format: 'text' | 'json' };

export function registerIdentityCommands(program: Command): void {
  const group = program.command('identity').description('service identities (image, signature, vulnerabilities, build commit, service account, SPIFFE ID) and SPIFFE X.509-SVIDs');

  addCentralOptions(
    group.command('list').description("Central's service identities of live deployments")
      .addOption(formatOption(['table', 'json']))
      .addOption(outputOption('list'))
      .option('--cluster <name>', 'only this cluster')
      .option('--namespace <ns>', 'only this namespace')
      .option('--trust-domain <domain>', 'SPIFFE trust domain of the IDs shown', DEFAULT_TRUST_DOMAIN),
  ).action(async (o: CentralCliOptions & { format: 'table' | 'json'; output?: string; cluster?: string; namespace?: string; trustDomain: string }) => {
    checkTrustDomain(o.trustDomain);
    const items: ServiceIdentity[] = [];
    await withClient(requireCentralClient(o), async (c) => {
      let cursor: string | undefined;
      do {
        const page = await c.get<{ items: ServiceIdentity[]; nextCursor: string | null }>('/api/v1/identities', {
          limit: 1000, trustDomain: o.trustDomain, ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.namespace ? { namespace: o.namespace } : {}), ...(cursor ? { cursor } : {}),
        });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    });
    await writeOutput(o.format === 'json' ? `${JSON.stringify(items, null, 2)}\n` : listTable(items), o);
  });

  addCentralOptions(
    group.command('issue').description('issue a short-lived SPIFFE X.509-SVID: svid.pem, svid.key (0600) and bundle.pem in --out-dir')
      .argument('<workload>', 'spiffe://TD/PATH, NAMESPACE/SERVICE_ACCOUNT, or the NAME of a workload on this host')
      .option('--trust-domain <domain>', `SPIFFE trust domain (default: the ID's, else ${DEFAULT_TRUST_DOMAIN})`)
      .option('--ttl <duration>', 'lifetime, 1m to 24h (e.g. 30m, 1h)', '1h')
      .option('--ca-dir <dir>', 'where the Gatehouse CA is kept (made on first use; default DATA_DIR/identity-ca)')
      .option('--host <name>', 'host name in a NAME workload\'s ID (default: this machine\'s)')
      .requiredOption('--out-dir <dir>', 'directory for svid.pem, svid.key and bundle.pem')
      .addOption(new Option('--format <format>', 'what to print').choices(['text', 'json']).default('text')),
  ).action(async (workload: string, o: IssueOptions) => {
    const ttlMs = parseTtl(o.ttl);
    const spiffeId = spiffeIdForWorkload(workload, o.trustDomain, o.host ?? hostname().toLowerCase());
    const central = o.caDir ? undefined : centralClientFrom(o);
    if (o.caDir && (o.server || o.token)) throw new UserError('give either --ca-dir or --server/--token, not both', 'usage');
    let svid: IssuedSvid;
    let from: string;
    if (central) {
      const request = await makeSvidRequest(spiffeId);
      const r = await withClient(central, (c) => c.post<{ certificate: string; bundle: string; notBefore: string; notAfter: string; serialNumber: string }>('/api/v1/identities/svid', { spiffeId, csr: request.csrPem, ttlSeconds: Math.round(ttlMs / 1000) }));
      svid = { spiffeId, certPem: r.certificate, keyPem: request.keyPem, bundlePem: r.bundle, notBefore: new Date(r.notBefore), notAfter: new Date(r.notAfter), serialNumber: r.serialNumber };
      from = `Central at ${central.server}`;
    } else {
      const dir = o.caDir ?? join(defaultDataDir(), 'identity-ca');
      const ca = await openSpiffeCa(dir, requireWorkloadSpiffeId(spiffeId).trustDomain);
      svid = await issueSvid(ca, spiffeId, { ttlMs });
      from = `the CA in ${ca.dir}`;
    }
    const files = writeSvidFiles(svid, o.outDir);
    if (o.format === 'json') {
      process.stdout.write(`${JSON.stringify({ spiffeId, notBefore: svid.notBefore.toISOString(), notAfter: svid.notAfter.toISOString(), serialNumber: svid.serialNumber, files }, null, 2)}\n`);
    } else {
      process.stdout.write(`${spiffeId}\n  certificate ${files.cert}\n  key         ${files.key}\n  bundle      ${files.bundle}\n  valid until ${svid.notAfter.toISOString()} (from ${from})\n`);
    }
  });
}
