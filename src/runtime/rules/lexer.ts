/**
 * Scanner for Falco conditions. Falco's grammar is context dependent (a bare value such as
 * `/etc/passwd` or `O_TRUNC` is only a value after an operator), so the parser pulls tokens
 * of the kind it expects next instead of reading a fixed token stream.
 */
import { ConditionError } from './errors.js';

const WS = /\s/;
const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_]/;
/** Characters that end a bare (unquoted) value. */
const BARE_END = /[\s(),]/;

export class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  skipWs(): void {
    while (this.pos < this.text.length && WS.test(this.text[this.pos]!)) this.pos++;
  }

  atEnd(): boolean {
    this.skipWs();
    return this.pos >= this.text.length;
  }

  peek(): string {
    this.skipWs();
    return this.text[this.pos] ?? '';
  }

  /** The next whitespace-delimited chunk, for error messages. */
  tokenAt(pos = this.pos): string {
    let p = pos;
    while (p < this.text.length && WS.test(this.text[p]!)) p++;
    const m = /^(\(|\)|,|[^\s(),]+)/.exec(this.text.slice(p));
    return m ? m[1]! : '<end of condition>';
  }

  fail(message: string, pos = this.pos): never {
    const token = this.tokenAt(pos);
    throw new ConditionError(`${message} at offset ${pos} near '${token}'`, pos, token);
  }

  eat(ch: string): boolean {
    if (this.peek() === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected '${ch}'`);
  }

  /** A keyword (and/or/not/an operator word) followed by a non-identifier character. */
  keyword(word: string): boolean {
    this.skipWs();
    const end = this.pos + word.length;
    if (this.text.slice(this.pos, end) !== word) return false;
    const next = this.text[end];
    if (next !== undefined && (IDENT_CHAR.test(next) || next === '.' || next === '[')) return false;
    this.pos = end;
    return true;
  }

  /** `name` or `a.b.c` or `a.b[arg]`: an identifier, a macro name or a field. */
  identifier(): { name: string; arg?: string; pos: number } | undefined {
    this.skipWs();
    const start = this.pos;
    if (!IDENT_START.test(this.text[this.pos] ?? '')) return undefined;
    let p = this.pos;
    while (p < this.text.length && (IDENT_CHAR.test(this.text[p]!) || this.text[p] === '.' || this.text[p] === '-')) {
      // A '-' is allowed inside names only when followed by an identifier char (macro names use it rarely).
      if (this.text[p] === '-' && !IDENT_CHAR.test(this.text[p + 1] ?? '')) break;
      p++;
    }
    let name = this.text.slice(start, p);
    if (name.endsWith('.')) {
      name = name.slice(0, -1);
      p--;
    }
    let arg: string | undefined;
    if (this.text[p] === '[') {
      const close = this.text.indexOf(']', p);
      if (close < 0) this.fail("unterminated '[' in field argument", p);
      arg = this.text.slice(p + 1, close);
      p = close + 1;
    }
    this.pos = p;
    return arg === undefined ? { name, pos: start } : { name, arg, pos: start };
  }

  /** A comparison operator, or undefined when none follows. */
  symbolOperator(): string | undefined {
    this.skipWs();
    for (const op of ['==', '!=', '<=', '>=', '=', '<', '>']) {
      if (this.text.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    return undefined;
  }

  /** A quoted string (with \\ escapes) or a bare value. */
  value(): { text: string; quoted: boolean; pos: number } {
    this.skipWs();
    const start = this.pos;
    const q = this.text[this.pos];
    if (q === '"' || q === "'") {
      let out = '';
      let p = this.pos + 1;
      while (p < this.text.length && this.text[p] !== q) {
        const c = this.text[p]!;
        if (c === '\\' && p + 1 < this.text.length) {
          const n = this.text[p + 1]!;
          out += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === 'b' ? '\b' : n === 'f' ? '\f' : n;
          p += 2;
        } else {
          out += c;
          p++;
        }
      }
      if (p >= this.text.length) this.fail('unterminated quoted string', start);
      this.pos = p + 1;
      return { text: out, quoted: true, pos: start };
    }
    let p = this.pos;
    while (p < this.text.length && !BARE_END.test(this.text[p]!)) p++;
    if (p === this.pos) this.fail('expected a value');
    this.pos = p;
    return { text: this.text.slice(start, p), quoted: false, pos: start };
  }
}
