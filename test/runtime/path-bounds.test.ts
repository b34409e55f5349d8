/**
 * Path bounds of open events (what the sensor's in-kernel open filter lets through). The
 * property that matters: no open a loaded rule matches is filtered out. It is checked by
 * running the rule engine itself over many generated open events, built by the sensor's
 * own EventBuilder, for each of Falco's three rule files and all of them together.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadRuleSet, ruleSetFromText, type RuleSet } from '../../src/runtime/rules/index.js';
import type { Expr } from '../../src/runtime/rules/ast.js';
import {
  alwaysEmitted, conditionBound, filterEmits, openPathBounds, type OpenBounds,
} from '../../src/runtime/rules/path-bounds.js';
import { parseCondition } from '../../src/runtime/rules/index.js';
import { EventBuilder } from '../../src/sensor/event-builder.js';
import { ProcessTable } from '../../src/sensor/process-table.js';
import type { ContainerInfo } from '../../src/sensor/containers.js';
import type { RawHead } from '../../src/sensor/records.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';
import { rng } from '../helpers/random.js';

const RULES_DIR = fileURLToPath(new URL('../../../shared/reference/falco/rules/', import.meta.url));
const FILES = {
  stable: [`${RULES_DIR}falco_rules.yaml`],
  incubating: [`${RULES_DIR}falco_rules.yaml`, `${RULES_DIR}falco-incubating_rules.yaml`],
  sandbox: [`${RULES_DIR}falco_rules.yaml`, `${RULES_DIR}falco-sandbox_rules.yaml`],
  all: [`${RULES_DIR}falco_rules.yaml`, `${RULES_DIR}falco-incubating_rules.yaml`, `${RULES_DIR}falco-sandbox_rules.yaml`],
};

const plain = (b: OpenBounds) => JSON.parse(JSON.stringify(b, (_k, v) => (v instanceof Set ? [...v].sort() : v)));
const bound = (cond: string, access: 'read' | 'write' | 'readwrite' = 'read') =>
  plain({ read: conditionBound(parseCondition(cond), access), write: 'all', readwrite: 'all' }).read;
const empty = { exact: [], prefix: [], dir: [], base: [], suffix: [], contains: [] };

describe('path bounds of conditions', () => {
  test('path comparisons become atoms', () => {
    assert.deepEqual(bound('fd.name = /etc/shadow'), { ...empty, exact: ['/etc/shadow'] });
    assert.deepEqual(bound('fd.name in (/a, /b)'), { ...empty, exact: ['/a', '/b'] });
    assert.deepEqual(bound('fd.name startswith /etc/'), { ...empty, prefix: ['/etc/'] });
    assert.deepEqual(bound('fd.name pmatch (/etc/, /var/lib)'), { ...empty, prefix: ['/etc', '/var/lib'] });
    assert.deepEqual(bound('fd.name glob "/home/*/.ssh/*"'), { ...empty, prefix: ['/home/'] });
    assert.deepEqual(bound('fd.directory in (/var/log, /)'), { ...empty, dir: ['/', '/var/log'] });
    assert.deepEqual(bound('fd.filename = syslog'), { ...empty, base: ['syslog'] });
    assert.deepEqual(bound('fd.name endswith release_agent'), { ...empty, suffix: ['release_agent'] });
    assert.deepEqual(bound('fd.name contains id_rsa'), { ...empty, contains: ['id_rsa'] });
    assert.deepEqual(bound('fd.filename startswith bash'), { ...empty, contains: ['/bash'] });
    assert.deepEqual(bound('fd.filename startswith .bash'), empty, '"/.bash" only occurs in paths emitted anyway');
    // a suffix longer than the kernel's 16-byte window is bounded by its tail
    assert.deepEqual(bound('fd.name endswith /a/very/long/name.conf'), { ...empty, suffix: ['y/long/name.conf'] });
  });

  test('texts only non-canonical paths hold bound nothing more (the filter emits those anyway)', () => {
    assert.deepEqual(bound('fd.nameraw contains "../"'), empty);
    assert.deepEqual(bound('fd.name contains "/./"'), empty);
  });

  test('and keeps the tightest conjunct, or unites, not and unknown fields bound nothing', () => {
    assert.deepEqual(bound('proc.name = cat and fd.name = /etc/shadow'), { ...empty, exact: ['/etc/shadow'] });
    assert.deepEqual(bound('fd.name startswith /etc and fd.name in (/etc/a, /etc/b)'), { ...empty, prefix: ['/etc'] });
    assert.deepEqual(bound('fd.name = /a or fd.directory = /b'), { ...empty, exact: ['/a'], dir: ['/b'] });
    assert.equal(bound('fd.name = /a or proc.name = cat'), 'all');
    assert.equal(bound('not fd.name = /a'), 'all');
    assert.equal(bound('fd.name icontains shadow'), 'all');
    assert.equal(bound('fd.name regex "^/etc"'), 'all');
    assert.equal(bound('fd.name != /etc/shadow'), 'all');
    assert.equal(bound('basename(fd.name) = shadow'), 'all');
  });

  test('event type and access mode cut whole branches', () => {
    assert.deepEqual(bound('evt.type = execve and proc.name = cat'), empty);
    assert.equal(bound('evt.type in (open, openat) and proc.name = cat'), 'all');
    assert.deepEqual(bound('(evt.type = execve) or (evt.type = openat and fd.name = /x)'), { ...empty, exact: ['/x'] });
    assert.deepEqual(bound('evt.is_open_write = true and proc.name = cat', 'read'), empty);
    assert.equal(bound('evt.is_open_write = true and proc.name = cat', 'readwrite'), 'all');
    assert.deepEqual(bound('evt.is_open_read = true and fd.name = /x', 'write'), empty);
  });

  test('rules of other event types or sources do not widen the bounds', () => {
    const rs = ruleSetFromText([{ name: 'r.yaml', text: `
- rule: exec
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: o
  priority: WARNING
- rule: shadow
  desc: d
  condition: evt.type = openat and evt.is_open_read = true and fd.name = /etc/shadow
  output: o
  priority: WARNING
` }]);
    assert.deepEqual(plain(openPathBounds(rs.rules)), {
      read: { ...empty, exact: ['/etc/shadow'] }, write: empty, readwrite: { ...empty, exact: ['/etc/shadow'] },
    });
  });

  test("Falco's stable rules: the sensitive reads, log clearing and release_agent", () => {
    const b = plain(openPathBounds(loadRuleSet(FILES.stable).rules));
    assert.ok(b.read.exact.includes('/etc/shadow'));
    assert.deepEqual(b.read.dir, ['/etc/pam.d', '/etc/sudoers.d']);
    assert.deepEqual(b.read.prefix, []);
    assert.ok(b.write.dir.includes('/var/log') && b.write.base.includes('syslog'));
    assert.deepEqual(b.write.suffix, ['release_agent']);
    assert.deepEqual(b.write.exact, [], 'no stable rule watches writes of exact names');
  });
});

describe('alwaysEmitted: the paths the kernel side lets through whatever the bounds', () => {
  test('relative, non-canonical, trailing slash, empty and long paths', () => {
    for (const p of ['etc/shadow', './x', '/tmp/../etc/shadow', '/etc//shadow', '/etc/./shadow', '/root/.ssh/id_rsa', '/etc/', '', `/${'a'.repeat(199)}`]) {
      assert.equal(alwaysEmitted(p), true, p);
    }
    for (const p of ['/etc/shadow', '/', '/a.b/c..d', '/x/y', `/${'a'.repeat(198)}`]) {
      assert.equal(alwaysEmitted(p), p === '/a.b/c..d', p);
    }
  });
});

// ---- soundness: every open a rule matches passes the filter ----

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const AT_FDCWD = -100 >>> 0;
const PATH_FIELDS = new Set(['fd.name', 'fd.nameraw', 'evt.arg.name', 'fd.directory', 'fd.filename']);

/** Every literal a rule compares with a path field or a process name. */
function literals(rs: RuleSet): { paths: string[]; procs: string[] } {
  const paths = new Set<string>();
  const procs = new Set<string>();
  const walk = (e: Expr): void => {
    if (e.kind === 'and' || e.kind === 'or') e.children.forEach(walk);
    else if (e.kind === 'not') walk(e.child);
    else if (e.kind === 'check' && e.field.kind === 'field') {
      const vals = e.rhs.kind === 'value' ? [e.rhs.value.text] : e.rhs.kind === 'list' ? e.rhs.values.map((v) => v.text) : [];
      if (PATH_FIELDS.has(e.field.name)) vals.forEach((v) => paths.add(v));
      if (['proc.name', 'proc.pname', 'proc.aname'].includes(e.field.name)) vals.forEach((v) => procs.add(v));
    }
  };
  rs.rules.forEach((r) => walk(r.expr));
  return { paths: [...paths], procs: [...procs] };
}

function generatedOpens(rs: RuleSet, n: number, seed: number): Array<{ ev: RuntimeEvent; raw: string; flags: number }> {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const { paths, procs } = literals(rs);
  const words = ['a', 'etc', 'x.conf', 'shadow', 'log', 'ssh', 'id_rsa', 'tmp', 'data', '.bash_history', 'release_agent', 'pam.d', 'cron'];
  const names = [...procs, 'cat', 'node', 'sh', 'bash', 'python3', 'sshd', 'runuser', 'containerd', 'nginx', 'vi'];
  const table = new ProcessTable('/nonexistent-proc');
  const builder = new EventBuilder({ procRoot: '/nonexistent-proc', table, host: { users: new Map([[0, 'root'], [1000, 'app']]), groups: new Map([[0, 'root']]) }, clockOffset: 0n });
  const container: ContainerInfo = {
    id: 'a1b2c3d4e5f6', fullId: 'a1b2c3d4e5f6'.padEnd(64, '0'), name: 'web', image: 'docker.io/library/nginx:1', imageRepository: 'docker.io/library/nginx',
    imageTag: '1', imageId: '1234', privileged: false, labels: {}, type: 'podman', users: new Map([[0, 'root']]), groups: new Map(),
  };
  const path = (): string => {
    const lit = paths.length ? pick(paths).replace(/[*?[\]]/g, () => pick(words)) : '/x';
    const seg = () => pick(words);
    switch (Math.floor(r() * 9)) {
      case 0: return lit;
      case 1: return `${lit}${seg()}`;
      case 2: return `${lit}/${seg()}`;
      case 3: return `/${seg()}/${lit.replace(/^\//, '')}`;
      case 4: return `/${seg()}${lit}`;
      case 5: return `/${seg()}/../${lit.replace(/^\//, '')}`;
      case 6: return lit.replace(/^\//, '');
      case 7: return `/${seg()}/${seg()}/${seg()}`;
      default: return `${lit.slice(0, Math.floor(r() * (lit.length + 1)))}${seg()}`;
    }
  };
  const out: Array<{ ev: RuntimeEvent; raw: string; flags: number }> = [];
  for (let i = 0; i < n; i++) {
    const pid = 2000 + i;
    const parent = 1000 + (i % 7);
    if (!table.get(parent)) {
      table.exec({ pid: parent, ppid: 1, name: pick(names), exe: 'p', exepath: '/usr/bin/p', args: [], cwd: '/', tty: 0, sid: parent, vpgid: parent, loginuid: -1, mntns: 1 });
    }
    const name = pick(names);
    table.fork(parent, pid, BigInt(i), name);
    const proc = table.exec({ pid, ppid: parent, name, exe: name, exepath: `/usr/bin/${name}`, args: ['-x'], cwd: pick(['/', '/etc', '/root', '/var/log']), tty: r() < 0.3 ? 34816 : 0, sid: pid, vpgid: pid, loginuid: -1, mntns: 2 });
    const flags = pick([O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, O_WRONLY, O_RDWR, O_RDWR | O_TRUNC, 3]);
    const raw = path();
    const kind = pick([1, 2, 2, 2, 3]);
    const uid = r() < 0.5 ? 0 : 1000;
    const head: RawHead = {
      tid: pid, pid, ppid: parent, uid, gid: uid, euid: uid, egid: uid, loginuid: 4294967295, mntns: 2, cgroup: 7,
      capEffective: r() < 0.5 ? 0x1ffffffffffn : 0n, tty: proc.tty, sid: pid, vpgid: pid, ts: BigInt(1e9 + i), kind: 'open',
      ret: r() < 0.8 ? 3 : -2, a: [flags, 0o644, kind === 1 ? AT_FDCWD : AT_FDCWD, kind, 0] as RawHead['a'], comm: name,
    };
    const ev = builder.common(head, proc, r() < 0.6 ? container : null);
    Object.assign(ev, builder.specific(head, [raw], [], proc));
    out.push({ ev, raw, flags });
    table.exit(pid);
  }
  return out;
}

describe('soundness: the rule engine never matches an open the bounds leave out', () => {
  for (const [name, files] of Object.entries(FILES)) {
    test(`${name} rules on 20,000 generated opens`, () => {
      const rs = loadRuleSet(files);
      const bounds = openPathBounds(rs.rules);
      let matched = 0;
      let matchedByAtoms = 0;
      let filtered = 0;
      for (const { ev, raw, flags } of generatedOpens(rs, 20_000, 7 + name.length)) {
        const emits = filterEmits(bounds, raw, flags);
        if (!emits) filtered++;
        if (rs.countMatches(ev) === 0) continue;
        matched++;
        if (!alwaysEmitted(raw)) matchedByAtoms++;
        assert.ok(emits, `a rule matches ${raw} (flags ${flags}, ${ev['proc.name']}) but the filter drops it`);
      }
      // the test has teeth: rules fire on canonical paths the atoms must let through, and
      // the filter drops a real share of the rest
      assert.ok(matched > 100, `${matched} matches`);
      assert.ok(matchedByAtoms > 20, `${matchedByAtoms} matches on canonical paths`);
      if (name === 'stable' || name === 'sandbox') assert.ok(filtered > 2000, `${filtered} opens filtered`);
    });
  }
});
