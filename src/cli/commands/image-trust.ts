/**
 * `gatehouse image sign` / `image verify`: cosign-compatible signatures on image digests.
 * Adds subcommands to the existing `image` command (see registerImageTrustCommands).
 */
import { Option, type Command } from 'commander';
import { resolveTarget, registryReference } from '../../trust/image-target.js';
import { loadPrivateKey, loadPublicKey } from '../../trust/keys.js';
import { loadTrustPolicy, type TrustDecision } from '../../trust/policy.js';
import { evaluateTrustPolicy } from '../../trust/evaluate.js';
import { RegistryStore } from '../../trust/registry-write.js';
import { signImage } from '../../trust/sign.js';
import { failureReason, verifyImageSignatures, type SignatureEvidence } from '../../trust/verify.js';
import { UserError } from '../../util/errors.js';
import { envOrPrompt } from './key.js';
import { formatOption, outputOption, writeOutput } from '../report-options.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { pushImageReport } from '../central-push.js';

interface RegistryCliOptions {
  insecure?: boolean;
  allowInsecureRegistry?: boolean;
  authfile?: string;
}

function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('--insecure', 'use plain HTTP for the registry (loopback registries always use it)')
    .addOption(new Option('--allow-insecure-registry', 'cosign spelling of --insecure').hideHelp())
    .option('--authfile <file>', 'registry credentials file (default: $REGISTRY_AUTH_FILE, ~/.docker/config.json)');
}

function storeFor(registry: string, o: RegistryCliOptions): RegistryStore {
  const insecure = o.insecure || o.allowInsecureRegistry ? true : undefined;
  return new RegistryStore(registry, { insecure, authFile: o.authfile });
}

/** Parses repeated `-a key=value` flags. */
function collectAnnotation(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UserError(`annotation "${value}" must be key=value`, 'bad-annotation');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

const collectList = (value: string, previous: string[] = []) => [...previous, value];

/** Adds `sign` and `verify` to the `image` command group. */
export function registerImageTrustCommands(image: Command): void {
  // Idempotent: safe whether image.ts or index.ts wires it (or both).
  if (image.commands.some((c) => c.name() === 'sign')) return;
  addRegistryOptions(
    image
      .command('sign')
      .description("sign an image's digest with a private key; stored where cosign looks (sha256-<hex>.sig tag; --bundle: OCI referrer)")
      .argument('<ref>', 'image in a registry: REGISTRY/REPO[:TAG|@DIGEST]')
      .requiredOption('--key <file>', 'private key (cosign encrypted or PKCS#8 PEM); passphrase from GATEHOUSE_PASSWORD/COSIGN_PASSWORD')
      .option('-a, --annotations <key=value>', 'annotation to put in the signed payload (repeatable)', collectAnnotation)
      .option('--bundle', 'also store a sigstore bundle (DSSE in-toto statement) as an OCI referrer, as cosign v3 does')
      .addOption(formatOption(['table', 'json']))
      .addOption(outputOption('result')),
  ).action(async (refText: string, o: RegistryCliOptions & { key: string; annotations?: Record<string, string>; bundle?: boolean; format: string; output?: string }) => {
    const ref = registryReference(refText);
    const key = await loadPrivateKey(o.key, envOrPrompt(o.key));
    const store = storeFor(ref.registry, o);
    try {
      const target = await resolveTarget(store, ref);
      const result = await signImage(store, target, key, o.annotations, { bundle: o.bundle });
      if (o.format === 'json') await writeOutput(`${JSON.stringify(result, null, 2)}\n`, o);
      else {
        let text = `Signed ${result.dockerReference}@${result.digest} (${result.signatureCount} signature(s) in ${result.signatureTag})\n`;
        if (result.bundle) {
          const where = result.bundle.indexedBy === 'referrers-api' ? "the registry's referrers API" : `referrers tag ${result.bundle.tag}`;
          text += `Bundle stored as referrer ${result.bundle.manifestDigest} (${where})\n`;
        }
        await writeOutput(text, o);
      }
    } finally {
      await store.close();
    }
  });

  addCentralOptions(addRegistryOptions(
    image
      .command('verify')
      .description('check an image has a valid signature by the given key(s), or satisfies a trust policy; with --server, the status is pushed to Central')
      .argument('<ref>', 'image in a registry: REGISTRY/REPO[:TAG|@DIGEST]')
      .option('--key <file>', 'trusted public key PEM (repeatable; any one suffices)', collectList)
      .option('--policy <file>', 'trust policy YAML (rules: require k-of-n keys / reject / exempt)')
      .option('-a, --annotations <key=value>', 'annotation every accepted signature must carry (repeatable)', collectAnnotation)
      .addOption(formatOption(['table', 'json']))
      .addOption(outputOption('result')),
  )).action(
    async (
      refText: string,
      o: RegistryCliOptions & CentralCliOptions & { key?: string[]; policy?: string; annotations?: Record<string, string>; format: string; output?: string },
    ) => {
      if (!o.key?.length && !o.policy) throw new UserError('image verify needs --key PUB or --policy FILE', 'usage');
      if (o.key?.length && o.policy) throw new UserError('give either --key or --policy, not both (the policy names its keys)', 'usage');
      const central = centralClientFrom(o);
      const ref = registryReference(refText);
      const store = storeFor(ref.registry, o);
      try {
        let evidence: SignatureEvidence | undefined;
        let decision: TrustDecision;
        if (o.policy) {
          ({ decision, evidence } = await evaluateTrustPolicy(await loadTrustPolicy(o.policy), ref, store, o.annotations));
        } else {
          const keys = await Promise.all(o.key!.map(async (path) => ({ name: path, key: await loadPublicKey(path) })));
          const target = await resolveTarget(store, ref);
          evidence = await verifyImageSignatures(store, target, keys, { annotations: o.annotations });
          const ok = evidence.verified.length > 0;
          decision = { allowed: ok, action: 'require', reason: ok ? `${evidence.verified.length} valid signature(s)` : failureReason(evidence), satisfiedKeys: [...new Set(evidence.verified.flatMap((v) => v.keys))] };
        }
        await report(o, refText, evidence, decision);
        if (!decision.allowed) process.exitCode = 1;
        if (central) {
          // An exempt or rejected image has no evidence: its digest is still what the status is about.
          const digest = evidence?.digest ?? (await resolveTarget(store, ref)).digest;
          const signers = [...new Set((evidence?.verified ?? []).flatMap((v) => v.keys))];
          await pushImageReport(central, { digest, refs: [refText], signature: { verified: decision.allowed && signers.length > 0, signers, message: decision.reason, checkedAt: new Date().toISOString() } });
        }
      } finally {
        await store.close();
      }
    },
  );
}

async function report(o: { format: string; output?: string }, refText: string, evidence: SignatureEvidence | undefined, decision: TrustDecision): Promise<void> {
  if (o.format === 'json') {
    await writeOutput(
      `${JSON.stringify({ reference: refText, digest: evidence?.digest, allowed: decision.allowed, decision, verified: evidence?.verified ?? [], rejected: evidence?.rejected ?? [] }, null, 2)}\n`,
      o,
    );
  } else if (decision.allowed) {
    let text = `Verified OK: ${evidence?.reference ?? refText}: ${decision.reason}\n`;
    for (const v of evidence?.verified ?? []) text += `  ${v.source} [${v.format}] (key ${v.keys.join(', ')})\n`;
    await writeOutput(text, o);
  }
  if (!decision.allowed) process.stderr.write(`gatehouse: verification failed: ${decision.reason}\n`);
}
