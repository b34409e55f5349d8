/**
 * `gatehouse admission install`: prints the manifests that run the admission webhook in a
 * cluster (src/admission/install.ts), with a CA and serving certificate made on the spot by
 * the same functions that make Central's local CA.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { parse as parseYaml, stringify } from 'yaml';
import { checkInstallOptions, DEFAULT_IMAGE, DEFAULT_SERVICE, DEFAULT_TIMEOUT_SECONDS, installYaml, serviceDnsNames, type InstallOptions } from '../../admission/install.js';
import { issueServerCert, makeLocalCa } from '../../central/tls/issue.js';
import { publicKeyPem } from '../../trust/keys.js';
import { loadTrustPolicy } from '../../trust/policy.js';
import { UserError, describeError } from '../../util/errors.js';
import { outputOption, writeOutput } from '../report-options.js';

interface InstallCliOptions {
  namespace: string;
  service?: string;
  url?: string;
  failClosed?: boolean;
  timeoutSeconds: string;
  image: string;
  replicas: string;
  alsoTrust: string[];
  trustPolicy?: string;
  output?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds `install` to the `admission` command group. */
export function registerAdmissionInstall(admission: Command): void {
  // Idempotent: safe whether admission.ts or index.ts wires it (or both).
  if (admission.commands.some((c) => c.name() === 'install')) return;
  admission
    .command('install')
    .description('print the manifests that run the admission webhook: namespace, Deployment, Service, ServiceAccount, TLS Secret and webhook configurations (pipe to kubectl apply -f -)')
    .requiredOption('-n, --namespace <ns>', "the webhook's namespace (excluded from admission, as kube-system is)")
    .option('--service <name>', `the webhook's Service, Deployment and ServiceAccount name (default ${DEFAULT_SERVICE})`)
    .option('--url <url>', 'the webhook runs outside the cluster at this https URL (no Deployment or Service is printed)')
    .option('--fail-closed', 'deny requests when the webhook cannot answer (failurePolicy Fail; default Ignore)')
    .option('--timeout-seconds <n>', "the API server's wait for an answer, 1-30", String(DEFAULT_TIMEOUT_SECONDS))
    .option('--image <image>', 'the Gatehouse image the Deployment runs', DEFAULT_IMAGE)
    .option('--replicas <n>', 'webhook replicas', '2')
    .option('--trust-policy <file>', 'trust policy the webhook enforces (as `image verify --policy`); put in a ConfigMap with its keys inline')
    .option('--also-trust <ca.pem>', 'keep trusting this CA in caBundle too, for a rotation without a gap (repeatable)', collect, [])
    .addOption(outputOption('manifests'))
    .action(async (o: InstallCliOptions) => {
      const options: Omit<InstallOptions, 'tls'> = {
        namespace: o.namespace,
        service: o.service,
        url: o.url,
        failClosed: Boolean(o.failClosed),
        timeoutSeconds: parseInteger(o.timeoutSeconds, '--timeout-seconds'),
        image: o.image,
        replicas: parseInteger(o.replicas, '--replicas'),
        trustPolicyYaml: o.trustPolicy === undefined ? undefined : await inlineTrustPolicy(o.trustPolicy),
      };
      checkInstallOptions(options);
      const names = o.url !== undefined ? urlNames(o.url) : { dns: serviceDnsNames(o.namespace, o.service ?? DEFAULT_SERVICE), ips: [] };
      const now = new Date();
      const ca = await makeLocalCa(now, `admission ${o.service ?? o.url ?? DEFAULT_SERVICE}.${o.namespace}`);
      const server = await issueServerCert(ca, names, now);
      const extra = await Promise.all(o.alsoTrust.map(readCaFile));
      const caPem = [ca.certPem, ...extra].map((p) => p.trim()).join('\n') + '\n';
      await writeOutput(installYaml({ ...options, tls: { caPem, certPem: server.certPem, keyPem: server.keyPem } }), o);
    });
}

/**
 * The trust policy as the pod will read it: validated (and its keys loaded) as `image
 * verify --policy` does, then written back with every key inline as PEM, since key files
 * next to the policy are not in the pod.
 */
async function inlineTrustPolicy(path: string): Promise<string> {
  const policy = await loadTrustPolicy(path);
  const doc = parseYaml(await readFile(path, 'utf8')) as Record<string, unknown>;
  doc.keys = Object.fromEntries([...policy.keys].map(([name, k]) => [name, { pem: publicKeyPem(k.key) }]));
  return stringify(doc, { lineWidth: 0 });
}

function parseInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new UserError(`${flag} must be a whole number, not "${text}"`, 'usage');
  return Number(text);
}

function urlNames(url: string): { dns: string[]; ips: string[] } {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? { dns: [], ips: [host] } : { dns: [host], ips: [] };
}

/** A CA certificate file to keep in caBundle (the one being rotated out). */
async function readCaFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read --also-trust ${path}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}`, 'io');
  }
  try {
    new X509Certificate(text);
  } catch {
    throw new UserError(`--also-trust ${path} is not a PEM certificate`, 'usage');
  }
  return text;
}
