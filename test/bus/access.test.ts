/**
 * NATS credentials and TLS (`--nats-creds`, `--nats-tls-ca`) against a real nats-server that
 * requires TLS (a CA and server certificate made with openssl) and authorization (a
 * user/password and an nkey user): the sensor's publisher and `gatehouse server --nats`
 * get through with the right files and store the event; a wrong password, an untrusted
 * certificate and a file in no known format are one-line errors (exit 2) that never show
 * the secret.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createUser } from '@nats-io/nkeys';
import { BusPublisher } from '../../src/central/client/bus-publisher.js';
import { loadBusAccess } from '../../src/central/bus/access.js';
import { hasCommand, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { metricValue, natsSkip, startCentralCli, tempDir, waitFor } from './helpers.js';

const PASSWORD = 'pw-0f3c9a71d2e5';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 signed by it, and a second CA that signed nothing. */
function makeCerts(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bus test CA'], dir);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=other CA'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'], dir);
}

const skip = natsSkip() || missing(hasCommand('openssl'), 'openssl not installed');

test('NATS with TLS and authorization: --nats-creds (user:password, nkey seed) and --nats-tls-ca; wrong ones are one-line errors', { skip }, async () => {
  const dir = tempDir('access');
  makeCerts(dir);
  const nkey = createUser();
  const seed = new TextDecoder().decode(nkey.getSeed());
  const port = await freePort();
  writeFileSync(join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}
jetstream { store_dir: "${join(dir, 'js')}" }
tls { cert_file: "${join(dir, 'server.crt')}", key_file: "${join(dir, 'server.key')}" }
authorization { users = [ { user: gatehouse, password: "${PASSWORD}" }, { nkey: ${nkey.getPublicKey()} } ] }
`);
  writeFileSync(join(dir, 'userpass'), `gatehouse:${PASSWORD}\n`);
  writeFileSync(join(dir, 'wrongpass'), 'gatehouse:not-the-password\n');
  writeFileSync(join(dir, 'seed'), `${seed}\n`);
  writeFileSync(join(dir, 'garbage'), 'this is not a credential at all\nsecond line\n');
  const { spawn } = await import('node:child_process');
  const nats = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let natsOut = '';
  nats.stderr.on('data', (d: Buffer) => (natsOut += d.toString()));
  const url = `nats://127.0.0.1:${port}`;
  const ca = join(dir, 'ca.crt');
  try {
    await waitFor('nats-server ready', () => /Server is ready/.test(natsOut), 30_000, 100);

    // The sensor's publisher, each credential kind, over TLS trusted through the CA.
    for (const [file, id] of [[join(dir, 'userpass'), 'access-userpass'], [join(dir, 'seed'), 'access-nkey']] as const) {
      const publisher = new BusPublisher({ url, timeoutMs: 10_000, access: loadBusAccess(file, ca) });
      try {
        const r = await publisher.post<{ stored: number }>('/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'secure' }, events: [{ id, type: 'alert', time: new Date().toISOString(), finding: { id: 'rule', kind: 'runtime', severity: 'LOW', title: id, resource: { host: 'h' } } }] });
        assert.equal(r.stored, 1, `${id} acknowledged by JetStream`);
      } finally {
        await publisher.close();
      }
    }

    // Central consumes them with the same flags.
    const central = await startCentralCli(['--nats', url, '--nats-creds', join(dir, 'userpass'), '--nats-tls-ca', ca, '--log-level', 'info']);
    try {
      await waitFor('both events stored', async () => metricValue((await central.get('/metrics')).text, 'gatehouse_central_bus_events_total', 'outcome="stored"') >= 2, 60_000);
      assert.ok(!central.output().includes(PASSWORD), 'the password never appears in Central\'s output');
    } finally {
      await central.stop();
    }

    // Wrong credential, untrusted certificate, no TLS trust, unknown format: exit 2, one line, no secret.
    const cases: [string[], RegExp][] = [
      [['--nats-creds', join(dir, 'wrongpass'), '--nats-tls-ca', ca], /refused the connection: .*authorization.*check --nats-creds/i],
      [['--nats-creds', join(dir, 'userpass'), '--nats-tls-ca', join(dir, 'other.crt')], /refused the connection: .*(certificate|self.signed|verify)/i],
      [['--nats-creds', join(dir, 'garbage')], /not a NATS \.creds file, an nkey user seed \(SU…\) or one line of user:password/],
      [['--nats-creds', join(dir, 'missing')], /--nats-creds .*missing: cannot read it \(ENOENT\)/],
    ];
    for (const [extra, want] of cases) {
      const r = await runCli(['server', '--insecure-http', '--listen', '127.0.0.1:0', '--no-local-sources', '--data-dir', tempDir('access-central'), '--nats', url, ...extra], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, want);
      assert.ok(!r.stderr.includes(PASSWORD) && !r.stderr.includes('not-the-password') && !r.stderr.includes('second line'), 'no secret in the message');
    }
    const sensor = await runCli(['sensor', '--nats', url, '--nats-creds', join(dir, 'wrongpass'), '--nats-tls-ca', ca, '--events', '-'], { input: '', timeoutMs: 60_000 });
    assert.equal(sensor.code, 2, sensor.stderr);
    assert.match(sensor.stderr.trim(), /^gatehouse: .*refused the connection: .*authorization/i);
    const orphan = await runCli(['server', '--nats-creds', join(dir, 'userpass')], { timeoutMs: 60_000 });
    assert.equal(orphan.code, 2);
    assert.match(orphan.stderr, /--nats-creds and --nats-tls-ca go with --nats/);
  } finally {
    nats.kill('SIGTERM');
  }
});
