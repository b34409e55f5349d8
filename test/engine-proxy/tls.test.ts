/**
 * TCP listen with TLS client certificates: the caller is the certificate's CN, a client
 * without a certificate from the CA is refused at the handshake, and the docker CLI works
 * with DOCKER_TLS_VERIFY. Certificates are made with openssl for each run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { JsonlAuditLog } from '../../src/engine-proxy/audit.js';
import { EngineProxy } from '../../src/engine-proxy/proxy.js';
import { docker, podmanUp, policiesOnly } from './helpers.js';

const up = podmanUp() && hasCommand('openssl');

function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=gatehouse test CA');
  const leaf = (name: string, cn: string, ext: string) => {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  leaf('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ci-deployer', 'extendedKeyUsage=clientAuth\n');
}

describe('engine-proxy over TLS with client certificates', { skip: missing(up, `podman API at ${podmanSocket}, docker CLI and openssl`) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-tls-'));
  const auditPath = join(dir, 'audit.jsonl');
  let proxy: EngineProxy;
  let audit: JsonlAuditLog;
  let port = 0;
  before(async () => {
    makeCerts(dir);
    audit = new JsonlAuditLog(auditPath, () => {});
    const policy = await policiesOnly(
      'tls',
      `  - id: T-CN\n    name: only ci-admin may read system info\n    severity: HIGH\n    scope: { actions: [system.info] }\n    criteria: { field: caller.cn, op: notEquals, value: ci-admin }\n    enforcement: [block]\n`,
    );
    proxy = new EngineProxy({
      listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      upstream: { kind: 'unix', path: podmanSocket },
      policy,
      audit,
      tls: { cert: readFileSync(join(dir, 'server.pem')), key: readFileSync(join(dir, 'server-key.pem')), ca: readFileSync(join(dir, 'ca.pem')) },
    });
    await proxy.start();
    port = proxy.port()!;
  });
  after(async () => {
    await proxy?.close();
    await audit?.close();
  });

  function get(path: string, withCert: boolean): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          ca: readFileSync(join(dir, 'ca.pem')),
          ...(withCert ? { cert: readFileSync(join(dir, 'client.pem')), key: readFileSync(join(dir, 'client-key.pem')) } : {}),
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  test('the client certificate CN is the caller, and policies can use it', async () => {
    assert.equal((await get('/v1.41/version', true)).status, 200);
    const info = await get('/v1.41/info', true);
    assert.equal(info.status, 403);
    assert.match(info.body, /T-CN only ci-admin may read system info/);
    const recs = readFileSync(auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(recs[0].caller.cn, 'ci-deployer');
    assert.equal(recs[0].caller.transport, 'tls');
  });

  test('a client without a certificate is refused', async () => {
    await assert.rejects(get('/v1.41/version', false));
  });

  test('the docker CLI works with DOCKER_TLS_VERIFY', async () => {
    const certDir = join(dir, 'docker');
    execFileSync('mkdir', ['-p', certDir]);
    writeFileSync(join(certDir, 'ca.pem'), readFileSync(join(dir, 'ca.pem')));
    writeFileSync(join(certDir, 'cert.pem'), readFileSync(join(dir, 'client.pem')));
    writeFileSync(join(certDir, 'key.pem'), readFileSync(join(dir, 'client-key.pem')));
    const r = await docker(`tcp://127.0.0.1:${port}`, ['version', '--format', '{{.Server.APIVersion}}'], { env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+/);
    const denied = await docker(`tcp://127.0.0.1:${port}`, ['info'], { env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir } });
    assert.match(denied.stderr + denied.stdout, /T-CN/);
  });
});
