/**
 * Recursive-descent parser for Falco conditions, with Falco's precedence:
 * `or` < `and` < `not` < checks and brackets. Nesting is capped so a hostile rule file
 * cannot exhaust the stack.
 */
import {
  LIST_OPS, MODIFIERS, TRANSFORMERS, UNARY_OPS, WORD_OPS,
  type CompareOp, type Expr, type FieldExpr, type Modifier, type Rhs, type Transformer, type Value,
} from './ast.js';
import { Scanner } from './lexer.js';

/** Deepest nesting of brackets, `not`s and transformers a condition may use. */
export const MAX_NESTING = 64;

export function parseCondition(text: string): Expr {
  const p = new Parser(new Scanner(text));
  const e = p.or(0);
  if (!p.s.atEnd()) p.s.fail('unexpected token');
  return e;
}


class Parser {
  constructor(readonly s: Scanner) {}

  private guard(depth: number): void {
    if (depth > MAX_NESTING) this.s.fail(`condition nested deeper than ${MAX_NESTING} levels`);
  }

  or(depth: number): Expr {
    const children = [this.and(depth)];
    while (this.s.keyword('or')) children.push(this.and(depth));
    return children.length === 1 ? children[0]! : { kind: 'or', children };
  }

  and(depth: number): Expr {
    const children = [this.not(depth)];
    while (this.s.keyword('and')) children.push(this.not(depth));
    return children.length === 1 ? children[0]! : { kind: 'and', children };
  }

  not(depth: number): Expr {
    if (this.s.keyword('not')) {
      this.guard(depth + 1);
      return { kind: 'not', child: this.not(depth + 1) };
    }
    return this.check(depth);
  }

  check(depth: number): Expr {
    const s = this.s;
    if (s.eat('(')) {
      this.guard(depth + 1);
      const e = this.or(depth + 1);
      s.expect(')');
      return e;
    }
    const start = s.pos;
    if (s.keyword('and') || s.keyword('or')) s.fail("expected a field, a macro or '(' before", start);
    const id = s.identifier();
    if (!id) return s.fail(s.atEnd() ? 'unexpected end of condition' : "expected a field, a macro or '('");
    let field: FieldExpr;
    if (TRANSFORMERS.has(id.name) && id.arg === undefined && s.peek() === '(') {
      field = this.transformer(id.name as Transformer, id.pos, depth + 1);
    } else {
      field = id.arg === undefined ? { kind: 'field', name: id.name, pos: id.pos } : { kind: 'field', name: id.name, arg: id.arg, pos: id.pos };
      if (!id.name.includes('.') && id.arg === undefined && !this.operatorFollows()) {
        return { kind: 'macro', name: id.name, pos: id.pos };
      }
    }
    let modifier: Modifier | undefined;
    for (const m of MODIFIERS) {
      if (s.keyword(m)) {
        modifier = m as Modifier;
        break;
      }
    }
    const opPos = s.pos;
    const op = this.operator();
    if (!op) return s.fail('expected an operator after the field', opPos);
    return { kind: 'check', field, op, ...(modifier ? { modifier } : {}), rhs: this.rhs(op, depth), pos: start };
  }

  private operatorFollows(): boolean {
    const save = this.s.pos;
    const op = this.operator();
    this.s.pos = save;
    return op !== undefined;
  }

  private operator(): CompareOp | undefined {
    const sym = this.s.symbolOperator();
    if (sym) return sym as CompareOp;
    for (const w of WORD_OPS) if (this.s.keyword(w)) return w as CompareOp;
    return undefined;
  }

  private rhs(op: CompareOp, depth: number): Rhs {
    const s = this.s;
    if (UNARY_OPS.has(op)) return { kind: 'none' };
    if (LIST_OPS.has(op)) {
      if (s.peek() === '(') return { kind: 'list', values: this.list() };
      // A bare list name (`proc.name in shell_binaries`): expanded by the loader.
      return { kind: 'list', values: [s.value()] };
    }
    const save = s.pos;
    if (s.keyword('val') && s.peek() === '(') {
      s.expect('(');
      const field = this.fieldExpr(depth + 1);
      s.expect(')');
      return { kind: 'field', field };
    }
    s.pos = save;
    if (s.peek() === '(' || s.peek() === ')') s.fail(`expected a value after '${op}'`);
    return { kind: 'value', value: s.value() };
  }

  private list(): Value[] {
    const s = this.s;
    s.expect('(');
    const values: Value[] = [];
    if (s.eat(')')) return values;
    for (;;) {
      if (s.peek() === '(') {
        // Falco flattens nested lists produced by list substitution: `(a, (b, c))`.
        values.push(...this.list());
      } else {
        values.push(s.value());
      }
      if (s.eat(')')) return values;
      if (!s.eat(',')) s.fail("expected ',' or ')' in list");
    }
  }

  private fieldExpr(depth: number): FieldExpr {
    this.guard(depth);
    const s = this.s;
    const id = s.identifier();
    if (!id) return s.fail('expected a field');
    if (TRANSFORMERS.has(id.name) && id.arg === undefined && s.peek() === '(') {
      return this.transformer(id.name as Transformer, id.pos, depth + 1);
    }
    return id.arg === undefined ? { kind: 'field', name: id.name, pos: id.pos } : { kind: 'field', name: id.name, arg: id.arg, pos: id.pos };
  }

  private transformer(fn: Transformer, pos: number, depth: number): FieldExpr {
    this.guard(depth);
    const s = this.s;
    s.expect('(');
    let literal: string | undefined;
    const args: FieldExpr[] = [];
    if (s.peek() === '"' || s.peek() === "'") {
      literal = s.value().text;
      if (!s.eat(',')) s.fail(`expected ',' after the separator of ${fn}()`);
    }
    do {
      args.push(this.fieldExpr(depth));
    } while (s.eat(','));
    s.expect(')');
    const multi = fn === 'concat' || fn === 'join';
    if (!multi && args.length !== 1) s.fail(`${fn}() takes exactly one field`, pos);
    if (literal !== undefined && fn !== 'join') s.fail(`${fn}() takes no separator`, pos);
    return literal === undefined ? { kind: 'transform', fn, args, pos } : { kind: 'transform', fn, args, literal, pos };
  }
}
