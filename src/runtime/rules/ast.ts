/**
 * The syntax tree of a Falco condition. Macros stay as `macro` nodes until the loader
 * substitutes their (already parsed) trees; list names inside list values are expanded
 * by the loader before compilation.
 */
export type CompareOp =
  | '=' | '==' | '!=' | '<' | '<=' | '>' | '>='
  | 'contains' | 'icontains' | 'bcontains' | 'startswith' | 'bstartswith' | 'endswith'
  | 'glob' | 'iglob' | 'regex' | 'pmatch' | 'in' | 'intersects' | 'exists';

export const UNARY_OPS: ReadonlySet<string> = new Set(['exists']);
export const LIST_OPS: ReadonlySet<string> = new Set(['in', 'intersects', 'pmatch']);
export const WORD_OPS: ReadonlySet<string> = new Set([
  'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith',
  'glob', 'iglob', 'regex', 'pmatch', 'in', 'intersects', 'exists',
]);

/** `oneof`/`anyof`/`allof`: how a multi-valued field meets the operator (default: any). */
export type Modifier = 'anyof' | 'allof' | 'oneof';
export const MODIFIERS: ReadonlySet<string> = new Set(['anyof', 'allof', 'oneof']);

export type Transformer = 'tolower' | 'toupper' | 'b64' | 'basename' | 'len' | 'join' | 'concat' | 'getopt';
export const TRANSFORMERS: ReadonlySet<string> = new Set([
  'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt',
]);

/** A field reference, possibly indexed (`proc.aname[2]`) and wrapped in transformers. */
export type FieldExpr =
  | { kind: 'field'; name: string; arg?: string; pos: number }
  | { kind: 'transform'; fn: Transformer; args: FieldExpr[]; literal?: string; pos: number };

export interface Value {
  text: string;
  quoted: boolean;
  pos: number;
}

export type Rhs =
  | { kind: 'none' }
  | { kind: 'value'; value: Value }
  | { kind: 'list'; values: Value[] }
  | { kind: 'field'; field: FieldExpr };

export type Expr =
  | { kind: 'and'; children: Expr[] }
  | { kind: 'or'; children: Expr[] }
  | { kind: 'not'; child: Expr }
  | { kind: 'check'; field: FieldExpr; op: CompareOp; modifier?: Modifier; rhs: Rhs; pos: number }
  | { kind: 'macro'; name: string; pos: number }
  | { kind: 'const'; value: boolean };

/** Every field a tree reads (left-hand sides, transformer arguments, val() references). */
export function fieldsOf(e: Expr, out: FieldExpr[] = []): FieldExpr[] {
  const visitField = (f: FieldExpr): void => {
    if (f.kind === 'field') out.push(f);
    else f.args.forEach(visitField);
  };
  switch (e.kind) {
    case 'and':
    case 'or':
      e.children.forEach((c) => fieldsOf(c, out));
      break;
    case 'not':
      fieldsOf(e.child, out);
      break;
    case 'check':
      visitField(e.field);
      if (e.rhs.kind === 'field') visitField(e.rhs.field);
      break;
    default:
      break;
  }
  return out;
}

export function fieldExprText(f: FieldExpr): string {
  if (f.kind === 'field') return f.arg === undefined ? f.name : `${f.name}[${f.arg}]`;
  const args = f.args.map(fieldExprText);
  if (f.literal !== undefined) args.unshift(quote(f.literal));
  return `${f.fn}(${args.join(', ')})`;
}

const BARE_SAFE = /^[^\s(),"'=<>!]+$/;

export function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function valueText(v: Value): string {
  return !v.quoted && BARE_SAFE.test(v.text) ? v.text : quote(v.text);
}

/**
 * Prints a tree back as a condition with brackets around every and/or group, which is
 * what Debian's sysdig 0.29 needs (it rejects mixed and/or without brackets).
 */
export function exprText(e: Expr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return `(${e.children.map(exprText).join(` ${e.kind} `)})`;
    case 'not':
      return `not ${exprText(e.child)}`;
    case 'macro':
      return e.name;
    case 'const':
      return e.value ? '(evt.num >= 0)' : '(evt.num < 0)';
    case 'check': {
      const lhs = `${fieldExprText(e.field)}${e.modifier ? ` ${e.modifier}` : ''}`;
      switch (e.rhs.kind) {
        case 'none':
          return `${lhs} ${e.op}`;
        case 'value':
          return `${lhs} ${e.op} ${valueText(e.rhs.value)}`;
        case 'list':
          return `${lhs} ${e.op} (${e.rhs.values.map(valueText).join(', ')})`;
        case 'field':
          return `${lhs} ${e.op} val(${fieldExprText(e.rhs.field)})`;
      }
    }
  }
}
