/** `gatehouse key …`: signing key pairs in cosign's formats. */
import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { generateKeyPair, loadPrivateKey, publicKeyPem, type PassphraseSource } from '../../trust/keys.js';
import { UserError } from '../../util/errors.js';

export function registerKeyCommands(program: Command): Command {
  const key = program.command('key').description('create and inspect signing keys (cosign-compatible)');

  key
    .command('generate')
    .description('create an ECDSA P-256 key pair: PREFIX.key (encrypted, cosign format) and PREFIX.pub')
    .option('--output-key-prefix <name>', 'file name prefix for the key pair', 'cosign')
    .action(async (o: { outputKeyPrefix: string }) => {
      const privPath = `${o.outputKeyPrefix}.key`;
      const pubPath = `${o.outputKeyPrefix}.pub`;
      const passphrase = await passphraseFor('new', true);
      const pair = await generateKeyPair(passphrase);
      // 'wx' refuses to overwrite: losing an existing private key is not recoverable.
      await writeNew(privPath, pair.privatePem, 0o600);
      await writeNew(pubPath, pair.publicPem, 0o644);
      process.stderr.write(`Private key written to ${privPath}\nPublic key written to ${pubPath}\n`);
    });

  key
    .command('public-key')
    .description('print the PKIX public key PEM of a private key')
    .requiredOption('--key <file>', 'private key (cosign encrypted or PKCS#8 PEM)')
    .action(async (o: { key: string }) => {
      const priv = await loadPrivateKey(o.key, envOrPrompt(o.key));
      process.stdout.write(publicKeyPem(priv));
    });

  return key;
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'wx', mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UserError(`${path} already exists; remove it or choose another --output-key-prefix`, 'exists');
    throw new UserError(`cannot write ${path}: ${code ?? String(e)}`, 'io');
  }
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}

/** The passphrase from GATEHOUSE_PASSWORD / COSIGN_PASSWORD (empty allowed), else a TTY prompt. */
export function envPassphrase(): string | undefined {
  return process.env.GATEHOUSE_PASSWORD ?? process.env.COSIGN_PASSWORD;
}

export function envOrPrompt(keyPath: string): PassphraseSource {
  return async () => envPassphrase() ?? passphraseFor(keyPath, false);
}

async function passphraseFor(what: string, confirm: boolean): Promise<string> {
  const fromEnv = envPassphrase();
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UserError('no passphrase: set GATEHOUSE_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to be prompted', 'no-passphrase');
  }
  const label = what === 'new' ? 'Enter password for private key: ' : `Enter password for private key ${what}: `;
  const first = await promptHidden(label);
  if (confirm) {
    const again = await promptHidden('Enter password for private key again: ');
    if (again !== first) throw new UserError('passwords do not match', 'no-passphrase');
  }
  return first;
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let input = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n' || c === '\u0004') {
          finish();
          resolve(input);
          return;
        }
        if (c === '\u0003') {
          finish();
          reject(new UserError('interrupted', 'interrupted'));
          return;
        }
        input = c === '\u007f' || c === '\b' ? input.slice(0, -1) : input + c;
      }
    };
    stdin.on('data', onData);
  });
}
