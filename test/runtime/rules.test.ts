/** Parser, compiler and loader of the Falco rule language (no external component). */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import {
  Compiler, EvalContext, exprText, fieldRegistry, loadRules, MAX_NESTING, parseCondition, RuleLoadError, RuleSet, ruleSetFromText,
} from '../../src/runtime/rules/index.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';

function matches(cond: string, ev: RuntimeEvent): boolean {
  const pred = new Compiler(fieldRegistry).compile(parseCondition(cond));
  const ctx = new EvalContext();
  ctx.reset(ev);
  return pred(ctx);
}

function rules(yaml: string, name = 'test.yaml'): RuleSet {
  return ruleSetFromText([{ name, text: yaml }]);
}

const open: RuntimeEvent = {
  'evt.type': 'openat', 'evt.dir': '<', 'evt.num': 7, 'proc.name': 'cat', 'proc.cmdline': 'cat /etc/shadow',
  'proc.pid': 42, 'fd.name': '/etc/shadow', 'fd.typechar': 'f', 'fd.num': 3, 'evt.is_open_read': true,
  'proc.aname': ['bash', 'sshd', 'systemd'], 'proc.pname': 'bash', 'container.id': 'abc123', 'container.image': 'docker.io/library/nginx:1.25',
  'proc.args': '-la --color=auto /tmp', 'evt.arg.flags': 'O_RDONLY|O_CLOEXEC', 'fd.sip': '10.1.2.3', 'fd.cip': '192.168.0.5',
  'thread.cap_effective': 'CAP_CHOWN CAP_SYS_ADMIN',
};

describe('condition grammar', () => {
  test('precedence: not > and > or', () => {
    assert.equal(exprText(parseCondition('a or b and c')), '(a or (b and c))');
    assert.equal(exprText(parseCondition('not a and b')), '(not a and b)');
    assert.equal(exprText(parseCondition('not (a or b) and c or d')), '((not (a or b) and c) or d)');
    assert.equal(exprText(parseCondition('a and b and c or not not d')), '((a and b and c) or not not d)');
    // and binds tighter than or, evaluated
    assert.equal(matches('proc.name = cat or proc.name = x and proc.pid = 0', open), true);
    assert.equal(matches('(proc.name = cat or proc.name = x) and proc.pid = 0', open), false);
    assert.equal(matches('not proc.name = x and proc.pid = 42', open), true);
  });

  test('quoting and escaping', () => {
    assert.equal(matches('proc.cmdline = "cat /etc/shadow"', open), true);
    assert.equal(matches("proc.cmdline = 'cat /etc/shadow'", open), true);
    assert.equal(matches('proc.name = "c\\"at"', { 'proc.name': 'c"at' }), true);
    assert.equal(matches('proc.name in ("a b", cat)', open), true);
    assert.equal(matches('proc.name = "<NA>"', { 'proc.name': '<NA>' }), true);
  });

  test('all comparison operators', () => {
    const cases: Array<[string, boolean]> = [
      ['proc.name = cat', true], ['proc.name == cat', true], ['proc.name != cat', false],
      ['proc.pid < 43', true], ['proc.pid <= 42', true], ['proc.pid > 42', false], ['proc.pid >= 42', true],
      ['fd.name contains shad', true], ['fd.name icontains SHAD', true], ['fd.name bcontains 736861', true],
      ['fd.name startswith /etc', true], ['fd.name bstartswith 2f657463', true], ['fd.name endswith dow', true],
      ['fd.name glob "/etc/*ad?w"', true], ['fd.name glob "/etc/[a-r]*"', false], ['fd.name iglob "/ETC/SH*"', true],
      ['fd.name regex "/etc/(sh|pass)[a-z]+"', true], ['fd.name regex "shadow"', false],
      ['fd.name pmatch (/etc, /usr)', true], ['fd.name pmatch (/et)', false], ['fd.name pmatch (/etc/shadow)', true],
      ['proc.name in (bash, cat)', true], ['proc.aname intersects (sshd, init)', true], ['proc.aname intersects (init)', false],
      ['fd.name exists', true], ['fd.sport exists', false], ['not fd.sport exists', true],
      ['evt.is_open_read = true', true], ['evt.is_open_read != true', false],
      ['fd.sip = 10.1.2.3', true], ['fd.snet = 10.0.0.0/8', true], ['fd.net in (192.168.0.0/16)', true], ['fd.cnet = 10.0.0.0/8', false],
      ['fd.ip = 192.168.0.5', true],
    ];
    for (const [c, want] of cases) assert.equal(matches(c, open), want, c);
  });

  test('absent fields make every comparison false, even !=', () => {
    assert.equal(matches('fd.sport != 80', open), false);
    assert.equal(matches('not fd.sport = 80', open), true);
    assert.equal(matches('k8s.ns.name != default', open), false);
  });

  test('modifiers anyof/allof/oneof on multi-valued fields', () => {
    assert.equal(matches('proc.aname = sshd', open), true, 'any ancestor by default');
    assert.equal(matches('proc.aname anyof startswith s', open), true);
    assert.equal(matches('proc.aname allof startswith s', open), false);
    assert.equal(matches('proc.aname oneof startswith ss', open), true);
    assert.equal(matches('proc.aname oneof startswith s', open), false);
  });

  test('transformers and val()', () => {
    assert.equal(matches('toupper(proc.name) = CAT', open), true);
    assert.equal(matches('tolower(toupper(proc.name)) = cat', open), true);
    assert.equal(matches('basename(fd.name) = shadow', open), true);
    assert.equal(matches('len(fd.name) = 11', open), true);
    assert.equal(matches('len(proc.aname) > 2', open), true);
    assert.equal(matches('b64(proc.name) = hello', { 'proc.name': 'aGVsbG8=' }), true);
    assert.equal(matches('concat(proc.name, fd.name) = "cat/etc/shadow"', open), true);
    assert.equal(matches('join(",", proc.aname) = "bash,sshd,systemd"', open), true);
    assert.equal(matches('getopt(proc.args) intersects (-l)', open), true);
    assert.equal(matches('getopt(proc.args) intersects (--color)', open), true);
    assert.equal(matches('proc.name = val(proc.pname)', open), false);
    assert.equal(matches('proc.pname = val(proc.aname[1])', open), true);
    assert.equal(matches('fd.name startswith val(fd.directory)', open), true);
  });

  test('indexed and derived fields', () => {
    assert.equal(matches('proc.aname[0] = cat and proc.aname[1] = bash and proc.aname[3] = systemd', open), true);
    assert.equal(matches('proc.aname[4] exists', open), false);
    assert.equal(matches('fd.directory = /etc and fd.filename = shadow', open), true);
    assert.equal(matches('container.image.repository = docker.io/library/nginx and container.image.tag = "1.25"', open), true);
    assert.equal(matches('evt.arg.flags contains O_RDONLY', open), true);
    assert.equal(matches('evt.arg[0] = x', { 'evt.arg[0]': 'x' }), true);
    assert.equal(matches('thread.cap_effective contains CAP_SYS_ADMIN', open), true);
    assert.equal(matches('fd.type = file', open), true);
    assert.equal(matches('proc.env[HOME] = /root', { 'proc.env[HOME]': '/root' }), true);
  });

  test('syntax errors name the offending token', () => {
    const bad: Array<[string, RegExp]> = [
      ['proc.name = ', /expected a value/],
      ['proc.name =', /expected a value/],
      ['(proc.name = a', /expected '\)'/],
      ['proc.name = a b', /unexpected token.*'b'/],
      ['proc.name in (a, b', /expected ',' or '\)'/],
      ['proc.name foo bar', /expected an operator.*'foo'/],
      ['proc.name = "abc', /unterminated quoted string/],
      ['and proc.name = a', /expected a field/],
    ];
    for (const [c, re] of bad) assert.throws(() => parseCondition(c), re, c);
  });

  test('nesting deeper than the cap is refused, not a stack overflow', () => {
    const deep = `${'('.repeat(MAX_NESTING + 5)}proc.name = a${')'.repeat(MAX_NESTING + 5)}`;
    assert.throws(() => parseCondition(deep), /nested deeper than/);
    const nots = `${'not '.repeat(10_000)}proc.name = a`;
    assert.throws(() => parseCondition(nots), /nested deeper than/);
    const ok = `${'('.repeat(MAX_NESTING - 1)}proc.name = a${')'.repeat(MAX_NESTING - 1)}`;
    assert.equal(exprText(parseCondition(ok)), 'proc.name = a');
  });

  test('regex is linear time (RE2 semantics): catastrophic patterns return at once', () => {
    const ev = { 'proc.cmdline': `${'a'.repeat(50_000)}!` };
    const t0 = process.hrtime.bigint();
    assert.equal(matches('proc.cmdline regex "(a+)+b"', ev), false);
    assert.equal(matches('proc.cmdline regex "(a|aa)*c"', ev), false);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // A backtracking engine would not finish; this bound is generous on purpose.
    assert.ok(ms < 5000, `regex took ${ms} ms`);
    assert.throws(() => matches('proc.name regex "(a"', ev), /invalid regex/);
    assert.throws(() => matches('proc.name regex "(?=a)"', ev), /invalid regex/, 'lookahead is not RE2');
  });

  test('glob with many stars does not backtrack exponentially', () => {
    const ev = { 'fd.name': 'a'.repeat(5000) };
    assert.equal(matches(`fd.name glob "${'*a'.repeat(40)}*b"`, ev), false);
  });

  test('type errors are compile errors', () => {
    assert.throws(() => matches('proc.pid = abc', open), /'abc' is not a number/);
    assert.throws(() => matches('proc.pid contains 1', open), /does not apply to number field/);
    assert.throws(() => matches('evt.is_open_read = maybe', open), /not a boolean/);
    assert.throws(() => matches('fd.snet = 10.0.0.0/99', open), /not an IP network/);
    assert.throws(() => matches('proc.nope = 1', open), /unknown field 'proc.nope'/);
    assert.throws(() => matches('proc.aname[1', open), /unterminated/);
    assert.throws(() => matches('container.mount.dest = /x', open), /needs an argument/);
    assert.throws(() => matches('undefined_macro and proc.name = cat', open), /undefined macro 'undefined_macro'/);
  });
});

describe('rules files', () => {
  const base = `
- required_engine_version: 0.31.0
- required_plugin_versions:
    - name: container
      version: 0.4.0
- list: shells
  items: [bash, sh]
- list: more_shells
  items: [shells, zsh, '"quoted item"', tcsh]
- macro: spawned
  condition: evt.type in (execve, execveat) and evt.dir = <
- macro: shell
  condition: proc.name in (more_shells)
- rule: Shell spawned
  desc: a shell
  condition: spawned and shell
  output: "Shell %proc.name (parent=%proc.pname cmd=%proc.cmdline fd=%fd.name)"
  priority: WARNING
  tags: [shell, mitre_execution]
`;
  const ev = (name: string, extra: RuntimeEvent = {}): RuntimeEvent => ({ 'evt.type': 'execve', 'evt.dir': '<', 'proc.name': name, 'proc.pname': 'sshd', 'proc.cmdline': `${name} -i`, ...extra });

  test('lists (nested, quoted items) and macros expand', () => {
    const rs = rules(base);
    assert.equal(rs.rules.length, 1);
    assert.equal(rs.macros, 2);
    assert.equal(rs.lists, 2);
    for (const n of ['bash', 'sh', 'zsh', 'quoted item']) assert.equal(rs.evaluate(ev(n)).length, 1, n);
    assert.equal(rs.evaluate(ev('python')).length, 0);
    assert.equal(rs.evaluate({ ...ev('bash'), 'evt.type': 'open' }).length, 0);
    assert.match(rs.expandedCondition('Shell spawned')!, /proc\.name in \("bash", "sh", "zsh", "quoted item", "tcsh"\)/);
  });

  test('alerts follow Falco JSON output', () => {
    const [a] = rules(base).evaluate(ev('bash', { 'evt.rawtime': 1700000000123456789n, 'container.id': 'c1' }));
    assert.ok(a);
    assert.equal(a.rule, 'Shell spawned');
    assert.equal(a.priority, 'Warning');
    assert.equal(a.source, 'syscall');
    assert.deepEqual(a.tags, ['shell', 'mitre_execution']);
    assert.equal(a.time, '2023-11-14T22:13:20.123456789Z');
    assert.equal(a.output, '22:13:20.123456789: Warning Shell bash (parent=sshd cmd=bash -i fd=<NA>)');
    assert.deepEqual(a.output_fields, { 'proc.name': 'bash', 'proc.pname': 'sshd', 'proc.cmdline': 'bash -i', 'fd.name': null });
    assert.equal(typeof a.hostname, 'string');
  });

  test('override append/replace and legacy append', () => {
    const rs = rules(`${base}
- list: shells
  items: [fish]
  override:
    items: append
- macro: spawned
  condition: and proc.pid > 0
  override:
    condition: append
- rule: Shell spawned
  condition: and not proc.pname = cron
  append: true
- rule: Shell spawned
  output: "replaced %proc.name"
  priority: ERROR
  override:
    output: replace
    priority: replace
`);
    assert.equal(rs.evaluate(ev('fish', { 'proc.pid': 1 })).length, 1, 'list append');
    assert.equal(rs.evaluate(ev('bash', { 'proc.pid': 0 })).length, 0, 'macro append');
    assert.equal(rs.evaluate(ev('bash', { 'proc.pid': 1, 'proc.pname': 'cron' })).length, 0, 'legacy rule append');
    const [a] = rs.evaluate(ev('bash', { 'proc.pid': 1 }));
    assert.equal(a?.priority, 'Error');
    assert.match(a!.output, /Error replaced bash$/);
    const replaced = rules(`${base}
- list: shells
  items: [fish]
  override:
    items: replace
- macro: shell
  condition: proc.name = tcsh
  override:
    condition: replace
`);
    assert.equal(replaced.evaluate(ev('tcsh')).length, 1);
    assert.equal(replaced.evaluate(ev('bash')).length, 0);
  });

  test('exceptions: list form, scalar form, appended values', () => {
    const rs = rules(`${base}
- list: extra_shells
  items: [tcsh]
- rule: Shell spawned
  exceptions:
    - name: by_parent_and_cmd
      fields: [proc.pname, proc.cmdline]
      comps: [=, startswith]
      values:
        - [cron, bash]
    - name: by_name
      fields: proc.name
      comps: in
      values: [zsh, extra_shells]
  override:
    exceptions: append
- rule: Shell spawned
  exceptions:
    - name: by_parent_and_cmd
      values:
        - [systemd, sh]
  append: true
`);
    assert.equal(rs.evaluate(ev('bash', { 'proc.pname': 'cron' })).length, 0);
    assert.equal(rs.evaluate(ev('bash', { 'proc.pname': 'cron', 'proc.cmdline': 'xbash' })).length, 1, 'startswith comp');
    assert.equal(rs.evaluate(ev('zsh')).length, 0, 'scalar form');
    assert.equal(rs.evaluate(ev('tcsh')).length, 0, 'list name among scalar values');
    assert.equal(rs.evaluate(ev('sh', { 'proc.pname': 'systemd' })).length, 0, 'appended exception values');
    assert.equal(rs.evaluate(ev('sh', { 'proc.pname': 'init' })).length, 1);
    assert.equal(rs.evaluate(ev('quoted item')).length, 1);
  });

  test('enabled flag, priority filter and rule disabling by name only', () => {
    const text = `${base}
- rule: Shell spawned
  enabled: false
`;
    assert.equal(rules(text).rules.length, 0);
    assert.equal(new RuleSet(loadRules([{ name: 't', text }]), { includeDisabled: true }).rules.length, 1);
    assert.equal(new RuleSet(loadRules([{ name: 't', text: base }]), { minPriority: 'Error' }).rules.length, 0);
  });

  test('rules are indexed by event type; warn_evttypes', () => {
    const loaded = loadRules([{ name: 't.yaml', text: `
- rule: any type
  desc: x
  condition: proc.name = bash
  output: x
  priority: INFO
- rule: quiet any type
  desc: x
  condition: not evt.type = open
  output: x
  priority: INFO
  warn_evttypes: false
- rule: typed
  desc: x
  condition: (evt.type = open or evt.type in (openat)) and proc.name = bash
  output: x
  priority: INFO
` }]);
    assert.deepEqual(loaded.warnings.map((w) => [w.itemName, w.code]), [['any type', 'LOAD_NO_EVTTYPE']]);
    assert.deepEqual([...loaded.rules[2]!.evtTypes!].sort(), ['open', 'openat']);
    const rs = new RuleSet(loaded, { ruleMatching: 'all' });
    assert.deepEqual(rs.match({ 'evt.type': 'openat', 'proc.name': 'bash' }).map((r) => r.name), ['any type', 'quiet any type', 'typed']);
    assert.deepEqual(rs.match({ 'evt.type': 'open', 'proc.name': 'bash' }).map((r) => r.name), ['any type', 'typed']);
    // Falco's default rule_matching: first — the first matching rule in load order wins.
    assert.deepEqual(new RuleSet(loaded).match({ 'evt.type': 'openat', 'proc.name': 'bash' }).map((r) => r.name), ['any type']);
    assert.deepEqual(new RuleSet(loaded).match({ 'evt.type': 'openat', 'proc.name': 'sh' }).map((r) => r.name), ['quiet any type']);
  });

  test('unknown fields fail the load unless skip-if-unknown-filter', () => {
    const rule = (skip: boolean) => `
- rule: r
  desc: x
  condition: evt.type = open and proc.nonsense = 1
  output: x
  priority: INFO
  skip-if-unknown-filter: ${skip}
`;
    assert.throws(() => rules(rule(false), 'u.yaml'), (e: unknown) => {
      assert.ok(e instanceof RuleLoadError);
      assert.match(e.message, /^u\.yaml:4: rule "r": rule condition: unknown field 'proc.nonsense'/);
      assert.equal(e.diagnostics[0]!.token, 'proc.nonsense');
      return true;
    });
    const loaded = loadRules([{ name: 'u.yaml', text: rule(true) }]);
    assert.equal(loaded.rules.length, 0);
    assert.equal(loaded.errors.length, 0);
    assert.equal(loaded.warnings[0]!.code, 'LOAD_UNKNOWN_FILTER');
  });

  test('errors name file, line, item and token', () => {
    const cases: Array<[string, RegExp]> = [
      ['- rule: r\n  desc: x\n  condition: proc.name = a )\n  output: x\n  priority: INFO\n', /e\.yaml:3: rule "r": .*unexpected token.*'\)'/],
      ['- macro: m\n  condition: proc.name in (a,\n', /e\.yaml:2: macro "m": macro condition: /],
      ['- rule: r\n  desc: x\n  condition: m2\n  output: x\n  priority: INFO\n', /undefined macro 'm2'/],
      ['- rule: r\n  desc: x\n  condition: proc.name = a\n  output: x\n  priority: LOUD\n', /e\.yaml:1: rule "r": unknown priority 'LOUD'/],
      ['- rule: r\n  condition: and x\n  append: true\n', /append to undefined rule 'r'/],
      ['- list: l\n  items: [a]\n  override:\n    items: prepend\n', /must be 'append' or 'replace'/],
      ['- foo: bar\n', /unknown item kind/],
      ['rules: [\n', /e\.yaml:\d+: invalid YAML/],
      ['a: b\n', /not a sequence of items/],
      ['- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: r\n  desc: x\n  condition: a\n  output: x\n  priority: INFO\n', /refers to itself/],
    ];
    for (const [text, re] of cases) assert.throws(() => rules(text, 'e.yaml'), re, text);
  });

  test('an empty rules file loads with zero items', () => {
    const rs = rules('');
    assert.equal(rs.rules.length + rs.macros + rs.lists, 0);
  });
});
