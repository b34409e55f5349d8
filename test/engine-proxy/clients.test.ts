/**
 * Clients other than the docker CLI through the proxy: Docker Compose (v1, Debian's
 * docker-compose) and the Docker SDK for Python (Debian's python3-docker), against
 * podman's API. Allowed work behaves as it does directly; dangerous settings they send
 * are refused with the rule named, in the error each client shows its user.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { TEST_IMAGE, docker, podmanUp, run, startProxy, testImagePresent, type RunningProxy, defaultPolicies } from './helpers.js';

const direct = `unix://${podmanSocket}`;
const PYTHON = '/usr/bin/python3';
const up = podmanUp();
const imageOk = up && (await testImagePresent());
const composeOk = hasCommand('docker-compose');
const sdkOk = (await run(PYTHON, ['-c', 'import docker']).catch(() => ({ code: 1 }))).code === 0;
const suffix = `${process.pid}-${Date.now() % 100000}`;

function composeFile(dir: string, name: string, extra: string): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    `version: "3.7"
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "echo compose-$$((6*7)); cat /data/greeting.txt"]
    ulimits:
      nproc: 1024
      nofile: {soft: 1024, hard: 1024}
${extra}`,
  );
  return file;
}

describe('docker-compose through engine-proxy', { skip: missing(up && imageOk && composeOk, `podman API, ${TEST_IMAGE} and docker-compose (.ci/setup.d/70-engine-proxy.sh)`) }, () => {
  let p: RunningProxy;
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-compose-'));
  const projects: string[] = [];
  const compose = (file: string, project: string, args: string[]) => {
    projects.push(`${project}\0${file}`);
    return run('docker-compose', ['-f', file, '-p', project, ...args], { env: { DOCKER_HOST: p.host, COMPOSE_INTERACTIVE_NO_CLI: '1' }, timeoutMs: 120_000 });
  };
  before(async () => {
    p = await startProxy(await defaultPolicies());
  });
  after(async () => {
    for (const entry of projects) {
      const [project, file] = entry.split('\0') as [string, string];
      await run('docker-compose', ['-f', file, '-p', project, 'down', '-t', '0'], { env: { DOCKER_HOST: direct } });
    }
    await p?.close();
  });

  test('up creates the network and the container, streams its output and exit code', async () => {
    const project = `ghep${suffix.replace('-', '')}a`;
    const r = await compose(composeFile(dir, 'ok', ''), project, ['up', '--abort-on-container-exit', '--no-color']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /compose-42/);
    assert.match(r.stdout, /hello from the image/);
    const down = await compose(join(dir, 'ok.yml'), project, ['down']);
    assert.equal(down.code, 0, down.stderr);
    const actions = new Set(p.audit().map((a) => a.action));
    for (const a of ['network.create', 'container.create', 'container.start', 'container.attach', 'container.remove', 'network.remove']) assert.ok(actions.has(a), `audit has ${a}: ${[...actions].join(', ')}`);
  });

  test('a privileged service is refused, the rule named in compose\'s error, and nothing runs', async () => {
    const project = `ghep${suffix.replace('-', '')}b`;
    const r = await compose(composeFile(dir, 'priv', '    privileged: true\n'), project, ['up', '--abort-on-container-exit', '--no-color']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /EP001/);
    assert.doesNotMatch(r.stdout, /compose-42/);
    const ps = await docker(direct, ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '-q']);
    assert.equal(ps.stdout.trim(), '', 'no container was created');
  });

  test('a service binding the engine socket is refused', async () => {
    const project = `ghep${suffix.replace('-', '')}c`;
    const r = await compose(composeFile(dir, 'sock', '    volumes: ["/run/podman/podman.sock:/var/run/docker.sock"]\n'), project, ['up', '--no-color']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /EP005/);
  });
});

/** Runs a Python program with the Docker SDK against the proxy; it prints one JSON line. */
async function sdk(host: string, program: string): Promise<Record<string, unknown>> {
  const r = await run(PYTHON, ['-c', program], { env: { DOCKER_HOST: host }, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('Docker SDK for Python through engine-proxy', { skip: missing(up && imageOk && sdkOk, `podman API, ${TEST_IMAGE} and python3-docker (.ci/setup.d/70-engine-proxy.sh)`) }, () => {
  let p: RunningProxy;
  before(async () => {
    p = await startProxy(await defaultPolicies());
  });
  after(async () => {
    await docker(direct, ['rm', '-f', `gh-ep-sdk-${suffix}`]);
    await p?.close();
  });

  const prelude = `
import json, docker
from docker.types import Ulimit
c = docker.from_env(version="1.41")
ul = [Ulimit(name="nproc", soft=1024, hard=1024), Ulimit(name="nofile", soft=1024, hard=1024)]
`;

  test('run, exec (hijacked stream), logs and listing work; answers equal the direct ones', async () => {
    const program = (name: string) => `${prelude}
out = c.containers.run("${TEST_IMAGE}", ["sh", "-c", "echo sdk-$((6*7)); sleep 30"], name="${name}", detach=True, ulimits=ul)
import time
for _ in range(100):
    if b"sdk-42" in out.logs(): break
    time.sleep(0.1)
logs = out.logs().decode()
code, ex = out.exec_run(["cat", "/data/greeting.txt"])
names = sorted(x.name for x in c.containers.list(filters={"name": "${name}"}))
out.remove(force=True)
print(json.dumps({"logs": logs, "exec": ex.decode(), "code": code, "names": names}))
`;
    const viaProxy = await sdk(p.host, program(`gh-ep-sdk-${suffix}`));
    const plain = await sdk(direct, program(`gh-ep-sdk-${suffix}-d`));
    assert.equal(viaProxy.exec, 'hello from the image\n');
    assert.equal(viaProxy.code, 0);
    assert.equal(viaProxy.logs, 'sdk-42\n');
    assert.deepEqual(viaProxy, { ...plain, names: [`gh-ep-sdk-${suffix}`] });
  });

  test('dangerous settings raise APIError 403 naming the rule', async () => {
    const r = await sdk(
      p.host,
      `${prelude}
res = {}
for key, kw in [("privileged", {"privileged": True}), ("pid", {"pid_mode": "host"}), ("caps", {"cap_add": ["SYS_ADMIN"]}), ("root", {"volumes": {"/": {"bind": "/host", "mode": "rw"}}})]:
    try:
        c.containers.create("${TEST_IMAGE}", ["true"], ulimits=ul, **kw)
        res[key] = "created"
    except docker.errors.APIError as e:
        res[key] = [e.status_code, e.explanation]
print(json.dumps(res))
`,
    );
    const expect: Record<string, string> = { privileged: 'EP001', pid: 'EP003', caps: 'EP006', root: 'EP005' };
    for (const [key, rule] of Object.entries(expect)) {
      const v = r[key] as [number, string] | string;
      assert.ok(Array.isArray(v), `${key}: ${JSON.stringify(v)}`);
      assert.equal(v[0], 403);
      assert.match(v[1], new RegExp(rule));
    }
  });
});
