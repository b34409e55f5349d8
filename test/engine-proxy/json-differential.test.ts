/**
 * Differential test against the engine itself: generated container-create bodies, with
 * keys in random letter case (and Go's extra case folds ſ→s, K→k), are sent straight to
 * podman; what the engine actually configured (inspect) must match the facts the proxy
 * derives from the same bytes — otherwise a casing trick could slip a privileged
 * container past the policy.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { missing, podmanSocket } from '../helpers/components.js';
import { createFacts } from '../../src/engine-proxy/facts.js';
import { findAmbiguousKey, type Json } from '../../src/engine-proxy/json-body.js';
import { TEST_IMAGE, podmanUp, testImagePresent } from './helpers.js';

const up = podmanUp();
const imageOk = up && (await testImagePresent());

function api(method: string, path: string, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: podmanSocket, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('create-body reading matches the engine (differential, generated)', { skip: missing(up && imageOk, `podman API at ${podmanSocket} and ${TEST_IMAGE}`) }, () => {
  test('40 generated bodies: privileged, host PID, caps, seccomp and binds as the engine sees them', async () => {
    let seed = 20261123;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const fold = (k: string) =>
      [...k]
        .map((ch) => {
          if (ch === 's' && rnd() < 0.3) return '\u017f';
          if ((ch === 'k' || ch === 'K') && rnd() < 0.5) return '\u212a';
          return rnd() < 0.5 ? ch.toLowerCase() : ch.toUpperCase();
        })
        .join('');
    let checked = 0;
    for (let i = 0; i < 40; i++) {
      const hc: Record<string, Json> = {};
      if (rnd() < 0.5) hc[fold('Privileged')] = rnd() < 0.5;
      if (rnd() < 0.5) hc[fold('PidMode')] = pick(['host', '']);
      if (rnd() < 0.5) hc[fold('CapAdd')] = [pick(['SYS_ADMIN', 'NET_RAW', 'CHOWN'])];
      if (rnd() < 0.5) hc[fold('SecurityOpt')] = [pick(['seccomp=unconfined', 'no-new-privileges'])];
      if (rnd() < 0.5) hc[fold('Binds')] = [pick(['/:/host', '/tmp:/t'])];
      const body: Json = { [fold('Image')]: TEST_IMAGE, [fold('Cmd')]: ['true'], [fold('HostConfig')]: hc };
      assert.equal(findAmbiguousKey(body), undefined);
      const text = JSON.stringify(body);
      const facts = createFacts(JSON.parse(text) as Json, new URLSearchParams());
      const created = await api('POST', '/v1.41/containers/create', text);
      assert.equal(created.status, 201, `${text} → ${JSON.stringify(created.json)}`);
      const inspect = await api('GET', `/v1.41/containers/${created.json.Id}/json`);
      await api('DELETE', `/v1.41/containers/${created.json.Id}?force=1`);
      const h = inspect.json.HostConfig;
      const engine = {
        privileged: h.Privileged === true,
        pidHost: h.PidMode === 'host',
        sysAdmin: (h.CapAdd ?? []).some((c: string) => /SYS_ADMIN$/.test(c)),
        seccompUnconfined: (h.SecurityOpt ?? []).includes('seccomp=unconfined'),
        bindRoot: (h.Binds ?? []).some((b: string) => b.startsWith('/:')),
      };
      const ours = {
        privileged: facts['container.privileged'] === true,
        pidHost: facts['container.pidMode'] === 'host',
        sysAdmin: (facts['container.capAdd'] as string[]).includes('SYS_ADMIN'),
        seccompUnconfined: (facts['container.securityOpt'] as string[]).includes('seccomp=unconfined'),
        bindRoot: (facts['container.bindSources'] as string[]).includes('/'),
      };
      // podman drops added capabilities of privileged containers (they have all of them).
      if (engine.privileged) ours.sysAdmin = engine.sysAdmin;
      assert.deepEqual(ours, engine, text);
      checked++;
    }
    assert.equal(checked, 40);
  });
});
