/**
 * The rule set evaluates each evt.type bucket through one generated function (fields as
 * lazily read locals, common tests inlined per JS type). It must decide exactly as the
 * per-rule predicates without inlining (every test a closure) do, on values of every JS type
 * a source may put in an event.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Compiler, EvalContext, fieldRegistry, ruleSetFromText } from '../../src/runtime/rules/index.js';
import type { FieldValue, RuntimeEvent } from '../../src/runtime/event.js';
import { rng } from '../helpers/random.js';

const r = rng(25);
const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;

// Fields of each declared type, the values a check compares with, and the values events hold (fd.directory and proc.pname are derived when absent).
const FIELDS: Record<string, { fields: string[]; literals: string[] }> = {
  string: { fields: ['proc.name', 'fd.name', 'proc.cmdline', 'fd.directory', 'proc.pname'], literals: ['sh', 'bash', '/etc/shadow', '/etc', '3', '"a b"', '""'] },
  number: { fields: ['fd.num', 'proc.pid', 'evt.rawres'], literals: ['0', '3', '-1', '42', '0x10', '2.5'] },
  bool: { fields: ['evt.is_open_read', 'evt.is_open_write'], literals: ['true', 'false'] },
  any: { fields: ['evt.arg.flags', 'evt.arg.fd'], literals: ['O_RDONLY', '3', '0', 'x'] },
};
const EVENT_VALUES: Array<FieldValue | undefined> = [
  undefined, null, 'sh', 'bash', '/etc/shadow', '/etc/shadowx', '3', '03', '42', '0x10', 'true', 'false', 'TRUE', '', 'a b', 'O_RDONLY|O_CLOEXEC',
  0, 3, -1, 42, 16, 2.5, NaN, true, false, ['sh', 'bash'], [3, 42], [], 3n,
];
const OPS: Record<string, string[]> = {
  string: ['=', '!=', 'startswith', 'endswith', 'contains', 'in', 'exists', '<', 'glob', 'pmatch'],
  number: ['=', '!=', '<', '<=', '>', '>=', 'in', 'exists'],
  bool: ['=', '!=', 'exists'],
  any: ['=', '!=', 'in', 'contains', 'startswith', 'exists'],
};

function check(): string {
  const type = pick(Object.keys(FIELDS));
  const { fields, literals } = FIELDS[type]!;
  const field = pick(fields);
  const op = pick(OPS[type]!);
  if (op === 'exists') return `${field} exists`;
  if (op === 'in' || op === 'pmatch') return `${field} ${op} (${[pick(literals), pick(literals), pick(literals)].join(', ')})`;
  return `${field} ${op} ${pick(literals)}`;
}

function condition(depth = 0): string {
  const x = r();
  if (depth > 2 || x < 0.45) return check();
  if (x < 0.6) return `not ${condition(depth + 1)}`;
  return `(${condition(depth + 1)} ${x < 0.8 ? 'and' : 'or'} ${condition(depth + 1)})`;
}

function event(): RuntimeEvent {
  const ev: RuntimeEvent = { 'evt.type': 'openat' };
  for (const { fields } of Object.values(FIELDS)) for (const f of fields) {
    const v = pick(EVENT_VALUES);
    if (v !== undefined) ev[f] = v;
  }
  return ev;
}

describe('evt.type buckets compiled into one function', () => {
  for (const matching of ['first', 'all'] as const) {
    test(`agree with closure-only predicates on 3,000 events of mixed value types (rule_matching ${matching})`, () => {
      let compared = 0;
      let hits = 0;
      for (let set = 0; set < 20; set++) {
        const yaml = Array.from({ length: 12 }, (_, i) => `- rule: r${i}\n  desc: d\n  condition: evt.type = openat and ${condition()}\n  output: o\n  priority: WARNING\n`).join('');
        const rs = ruleSetFromText([{ name: `gen${set}.yaml`, text: yaml }], { ruleMatching: matching });
        assert.equal(rs.errors.length, 0, rs.errors.map((e) => e.message).join('\n'));
        const reference = new Compiler(fieldRegistry, { inline: false });
        const preds = rs.rules.map((x) => reference.compile(x.expr));
        const ctx = new EvalContext();
        for (let i = 0; i < 150; i++) {
          const ev = event();
          ctx.reset(ev);
          const expected: string[] = [];
          for (const [k, rule] of rs.rules.entries()) {
            if (preds[k]!(ctx)) {
              expected.push(rule.name);
              if (matching === 'first') break;
            }
          }
          assert.deepEqual(rs.match(ev).map((x) => x.name), expected, `event ${JSON.stringify(ev, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
          assert.equal(rs.countMatches(ev), expected.length);
          assert.deepEqual(rs.evaluate(ev).map((a) => a.rule), expected);
          compared++;
          hits += expected.length;
        }
      }
      assert.equal(compared, 3000);
      // the generated conditions must not be trivially false (or the comparison proves little)
      assert.ok(hits > 300, `only ${hits} matches`);
    });
  }

  test('a field no evaluated test needs is never read from the event', () => {
    const rs = ruleSetFromText([{ name: 'lazy.yaml', text: '- rule: a\n  desc: d\n  condition: evt.type = openat and proc.name = sh and fd.name = /x\n  output: o\n  priority: WARNING\n' }]);
    const read: string[] = [];
    const ev = new Proxy({ 'evt.type': 'openat', 'proc.name': 'bash', 'fd.name': '/x' } as RuntimeEvent, {
      get(t, k) {
        if (typeof k === 'string') read.push(k);
        return t[k as string];
      },
    });
    assert.equal(rs.evaluate(ev).length, 0);
    assert.ok(!read.includes('fd.name'), `read: ${read.join(', ')}`);
    assert.equal(read.filter((k) => k === 'proc.name').length, 1);
  });
});
