/**
 * `gatehouse identity list`: Central's service identities (GET /api/v1/identities).
 * `gatehouse identity show MANIFESTS...`: the identities of the workloads in manifests, with
 * build provenance read from each image (manifest annotations, config labels).
 * `gatehouse identity issue WORKLOAD --out-dir DIR`: a short-lived SPIFFE X.509-SVID
 * (svid.pem, svid.key 0600, bundle.pem) from a Gatehouse CA kept in a directory (made on
 * first use), or from Central's CA (--server: the key is made here and only a certificate
 * request is sent). WORKLOAD is a SPIFFE ID, NAMESPACE/SERVICE_ACCOUNT (Kubernetes form),
 * or a NAME of a workload on this host (spiffe://TD/host/HOST/workload/NAME).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from '../../central/data-dir.js';
import type { CentralClient } from '../../central/client/client.js';
import { issueSvid, makeSvidRequest, openSpiffeCa, parseTtl, writeSvidFiles, type IssuedSvid } from '../../identity/ca.js';
import { DEFAULT_TRUST_DOMAIN, checkTrustDomain, hostSpiffeId, kubernetesSpiffeId, requireWorkloadSpiffeId } from '../../identity/spiffe.js';
import type { ServiceIdentity, VulnerabilityCounts } from '../../identity/types.js';
import { readImageProvenance } from '../../identity/image.js';
import { buildServiceIdentity, type ImageFactsForIdentity } from '../../identity/record.js';
import { loadManifests, type ManifestObject } from '../../kube/manifests.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { renderGrid } from '../../report/grid.js';
import { UserError, describeError } from '../../util/errors.js';
import { addImageOptions, openOptions, type ImageCliOptions } from '../image-options.js';
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

/** Top-level workloads of a manifest set (not owned by another workload). */
function topLevelWorkloads(objects: ManifestObject[]): ManifestObject[] {
  return objects.filter((o) => {
    if (!workloadKindOf(o.kind)?.runsPods) return false;
    const owners = (o.raw.metadata?.ownerReferences ?? []) as { kind?: string; controller?: boolean }[];
    return !owners.some((r) => r.controller && r.kind && workloadKindOf(r.kind)?.runsPods);
  });
}

type IssueOptions = CentralCliOptions & { trustDomain?: string; ttl: string; caDir?: string; outDir: string; host?: string; format: 'table' | 'json' };

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

  addImageOptions(
    group.command('show').description('service identities of the workloads in Kubernetes manifests, with build provenance read from each image\'s manifest annotations and config labels')
      .argument('<manifests...>', 'files or directories of manifests (- for stdin)')
      .addOption(formatOption(['table', 'json']))
      .addOption(outputOption('list'))
      .option('--trust-domain <domain>', 'SPIFFE trust domain of the IDs', DEFAULT_TRUST_DOMAIN)
      .option('--cluster <name>', 'cluster name to record')
      .option('--offline', 'do not read the images (provenance from the manifests only)'),
  ).action(async (inputs: string[], o: ImageCliOptions & { format: 'table' | 'json'; output?: string; trustDomain: string; cluster?: string; offline?: boolean }) => {
    checkTrustDomain(o.trustDomain);
    const loaded = await loadManifests(inputs);
    const bad = loaded.notes.find((n) => n.level === 'error');
    if (bad) throw new UserError(`${bad.file}${bad.line ? `:${bad.line}` : ''}: ${bad.message}`, 'bad-input');
    const workloads = topLevelWorkloads(loaded.objects);
    const provenance = new Map<string, ImageFactsForIdentity | undefined>();
    if (!o.offline) {
      const refs = [...new Set(workloads.flatMap((w) => buildServiceIdentity({ kind: w.kind, namespace: w.namespace ?? 'default', name: w.name, body: w.raw }, { trustDomain: o.trustDomain, image: () => undefined }).images.map((i) => i.ref)))];
      for (const ref of refs) {
        try {
          const p = await readImageProvenance(ref, openOptions(o));
          provenance.set(ref, { digest: p.digest, annotations: p.annotations, labels: p.labels });
        } catch (e) {
          process.stderr.write(`gatehouse: warning: cannot read ${ref}, its build provenance is unknown: ${describeError(e)}\n`);
        }
      }
    }
    const items = workloads.map((w) => buildServiceIdentity(
      { ...(o.cluster ? { cluster: o.cluster } : {}), kind: w.kind, namespace: w.namespace ?? 'default', name: w.name, body: w.raw },
      { trustDomain: o.trustDomain, image: (ref) => provenance.get(ref) },
    ));
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
      .addOption(formatOption(['table', 'json'])),
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
