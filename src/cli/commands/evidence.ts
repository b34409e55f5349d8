/**
 * `gatehouse evidence collect CONTAINER --output DIR [--key cosign.key] [--host URL]`,
 * `gatehouse evidence verify DIR [--key cosign.pub]` and
 * `gatehouse evidence drift CONTAINER [--host URL] [--format table|json]`: thin shells over
 * src/respond/evidence and src/respond/drift.
 */
import { Option, type Command } from 'commander';
import { collectEvidence } from '../../respond/evidence/collect.js';
import { verifyEvidence } from '../../respond/evidence/verify.js';
import { checkContainerDrift } from '../../respond/drift/oneshot.js';
import { loadPrivateKey, loadPublicKey } from '../../trust/keys.js';
import { readFile, stat } from 'node:fs/promises';
import { UserError, describeError } from '../../util/errors.js';
import { formatOption } from '../report-options.js';
import { table } from '../text.js';
import { envOrPrompt } from './key.js';

const byteCount = (what: string) => (v: string) => {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(v.trim());
  if (!m) throw new UserError(`${what} "${v}": expected a byte count such as 1048576, 512KiB or 8MiB`, 'usage');
  const unit = (m[2] ?? '').toUpperCase()[0];
  return Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1 << 20 : unit === 'G' ? 1 << 30 : 1);
};
const positiveInt = (what: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new UserError(`${what} "${v}": expected a whole number`, 'usage');
  return Number(v);
};

export function registerEvidenceCommands(program: Command): void {
  const evidence = program.command('evidence').description('forensic evidence bundles (signed) and drift from the image');

  evidence
    .command('collect')
    .description('capture a container: inspect, processes, logs, connections, its filesystem diff against the image (sha256 of every added or changed file), a manifest and a signature')
    .argument('<container>', 'container id or name')
    .requiredOption('-o, --output <dir>', 'bundle directory to create (must not exist or be empty)')
    .option('--key <file>', 'private key to sign the manifest with (cosign encrypted or PKCS#8 PEM); passphrase from GATEHOUSE_PASSWORD/COSIGN_PASSWORD')
    .option('--host <url>', 'container engine API (unix:///path or tcp://host:port; default $DOCKER_HOST, else podman\'s socket)')
    .addOption(new Option('--copy-limit <bytes>', 'changed files up to this size are copied; bigger ones only hashed').default(1 << 20).argParser(byteCount('--copy-limit')))
    .addOption(new Option('--log-lines <n>', 'log lines to keep (tail)').default(1000).argParser(positiveInt('--log-lines')))
    .option('--reason <text>', 'why the evidence is taken (kept in the manifest)')
    .option('--events <file>', 'the alerts or events behind the capture (a JSON array or JSON lines, e.g. the sensor\'s alert file), kept in events.json')
    .addOption(formatOption(['table', 'json']))
    .action(async (container: string, o: { output: string; key?: string; host?: string; copyLimit: number; logLines: number; reason?: string; events?: string; format: string }) => {
      const events = o.events ? await readEvents(o.events) : undefined;
      const signingKey = o.key ? await loadPrivateKey(o.key, envOrPrompt(o.key)) : undefined;
      const r = await collectEvidence({
        container,
        output: o.output,
        host: o.host,
        signingKey,
        ...(events ? { events } : {}),
        limits: { copyFileBytes: o.copyLimit, logTailLines: o.logLines },
        incident: { trigger: 'manual', ...(o.reason ? { reason: o.reason } : {}) },
      });
      if (o.format === 'json') {
        process.stdout.write(`${JSON.stringify({ path: r.path, manifestSha256: r.manifestSha256, signed: r.signed, keyId: r.keyId, container: r.manifest.container, parts: r.manifest.parts, unavailable: r.manifest.unavailable }, null, 1)}\n`);
        return;
      }
      const rows = r.manifest.parts.map((p) => [p.path, String(p.size), p.sha256.slice(0, 16), p.source ?? '']);
      process.stdout.write(`${table(['PART', 'SIZE', 'SHA256', 'FROM'], rows).replace(/\n?$/, '')}\n`);
      for (const u of r.manifest.unavailable) process.stdout.write(`not captured: ${u.part}: ${u.reason}\n`);
      process.stdout.write(`bundle ${r.path}: ${r.manifest.parts.length} parts, manifest sha256:${r.manifestSha256}, ${r.signed ? `signed (key ${r.keyId})` : 'unsigned (no --key)'}\n`);
    });

  evidence
    .command('verify')
    .description("check a bundle: every part's sha256 against the manifest, nothing unlisted, and the manifest's signature")
    .argument('<bundle>', 'bundle directory')
    .option('--key <file>', "trusted public key (cosign.pub); without it the bundle's own signer.pub is used (integrity only, not custody)")
    .addOption(formatOption(['table', 'json']))
    .action(async (bundle: string, o: { key?: string; format: string }) => {
      const publicKey = o.key ? await loadPublicKey(o.key) : undefined;
      const r = await verifyEvidence(bundle, { publicKey });
      if (o.format === 'json') {
        const { manifest, ...rest } = r;
        process.stdout.write(`${JSON.stringify({ ...rest, container: manifest?.container }, null, 1)}\n`);
      } else if (r.ok) {
        const how = r.signature === 'trusted-key' ? `signature verified with ${o.key} (key ${r.keyId})` : `signature verified with the bundle's own signer.pub (key ${r.keyId}); pass --key for chain of custody`;
        process.stdout.write(`verified: ${r.partsChecked} parts match the manifest; ${how}\n`);
      }
      if (!r.ok) {
        for (const p of r.problems) process.stderr.write(`gatehouse: evidence verify: ${p}\n`);
        process.exitCode = 1;
      }
    });

  evidence
    .command('drift')
    .description("one-shot drift check: the container's added or changed executables and libraries against its image")
    .argument('<container>', 'container id or name')
    .option('--host <url>', 'container engine API (unix:///path or tcp://host:port; default $DOCKER_HOST, else podman\'s socket)')
    .addOption(formatOption(['table', 'json']))
    .addOption(new Option('--exit-code <code>', 'exit code when drift is found').default(0).argParser(positiveInt('--exit-code')))
    .action(async (container: string, o: { host?: string; format: string; exitCode: number }) => {
      const r = await checkContainerDrift(container, { host: o.host });
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(r, null, 1)}\n`);
      else {
        const rows = r.drift.map((d) => [d.path, d.reason, d.kind, d.sha256?.slice(0, 16) ?? '', d.imageSha256?.slice(0, 16) ?? '']);
        if (rows.length) process.stdout.write(`${table(['PATH', 'DRIFT', 'KIND', 'SHA256', 'IMAGE SHA256'], rows).replace(/\n?$/, '')}\n`);
        process.stdout.write(`${r.container.name ?? r.container.id.slice(0, 12)} (image ${r.image.ref ?? r.image.id}): ${r.drift.length ? `${r.drift.length} drifted executable(s)` : 'no drift'}; ${r.changes} change(s) checked\n`);
      }
      if (r.drift.length && o.exitCode) process.exitCode = o.exitCode;
    });
}

const MAX_EVENTS_BYTES = 16 << 20;

/** A JSON array, or JSON lines (one alert or event per line). */
async function readEvents(path: string): Promise<unknown[]> {
  let text: string;
  try {
    const st = await stat(path);
    if (st.size > MAX_EVENTS_BYTES) throw new UserError(`--events ${path}: ${st.size} bytes, more than ${MAX_EVENTS_BYTES}`, 'usage');
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`--events ${path}: ${describeError(e)}`, 'usage');
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const v = JSON.parse(trimmed) as unknown;
      if (Array.isArray(v)) return v;
    } catch (e) {
      throw new UserError(`--events ${path}: not a JSON array (${describeError(e)})`, 'usage');
    }
  }
  return trimmed
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        throw new UserError(`--events ${path}: line ${i + 1} is not JSON`, 'usage');
      }
    });
}
