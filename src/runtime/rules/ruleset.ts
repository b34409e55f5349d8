/**
 * A loaded, compiled rule set. Rules are indexed by event type, so an event is only tested
 * against rules that can match its evt.type (plus the few that match any type), in the
 * order they were loaded.
 */
import type { RuntimeEvent } from '../event.js';
import { compileOutput, makeAlert, type Alert, type OutputTemplate } from '../alerts/alert.js';
import { exprText } from './ast.js';
import { EvalContext } from './compiler.js';
import type { RuleDiagnostic } from './errors.js';
import { fieldRegistry, type FieldDef } from './fields.js';
import { loadRuleFiles, loadRules, type CompiledRule, type LoadOptions, type LoadResult, type RuleSource } from './loader.js';
import { priorityRank, type Priority } from './priority.js';

export interface RuleSetOptions {
  /** Only rules at least this severe (Falco's `priority` setting). */
  minPriority?: Priority;
  /** Also keep rules with `enabled: false` (default: no). */
  includeDisabled?: boolean;
  /** Host name put in alerts; default os.hostname(). */
  hostname?: string;
  /**
   * Falco's `rule_matching`: `first` (Falco's default) stops at the first rule an event
   * matches, in load order; `all` reports every matching rule.
   */
  ruleMatching?: 'first' | 'all';
  /** Only rules carrying at least one of these tags (falco -T's complement, `-t`). */
  runTags?: string[];
  /** Drop rules carrying any of these tags (falco -T). */
  disableTags?: string[];
  /** Drop rules whose name contains any of these strings (falco -D). */
  disableRules?: string[];
}

interface Bucket {
  rules: CompiledRule[];
  outputs: OutputTemplate[];
  /** The bucket's conditions as one generated function (see Compiler.compileBucket). */
  first: (c: EvalContext) => number;
  all: (c: EvalContext, out: number[]) => void;
}

export class RuleSet {
  readonly rules: CompiledRule[];
  readonly macros: number;
  readonly lists: number;
  readonly warnings: RuleDiagnostic[];
  readonly errors: RuleDiagnostic[];
  private readonly byType = new Map<string, Bucket>();
  private readonly anyType: Bucket;
  private readonly ctx = new EvalContext();
  private readonly outputs = new Map<CompiledRule, OutputTemplate>();
  private readonly firstOnly: boolean;

  constructor(readonly loaded: LoadResult, private readonly opts: RuleSetOptions = {}) {
    this.macros = loaded.macros;
    this.lists = loaded.lists;
    this.warnings = loaded.warnings;
    this.errors = loaded.errors;
    const min = opts.minPriority ? priorityRank(opts.minPriority) : Infinity;
    const run = opts.runTags;
    const off = opts.disableTags ?? [];
    const offNames = opts.disableRules ?? [];
    this.firstOnly = (opts.ruleMatching ?? 'first') === 'first';
    this.rules = loaded.rules.filter((r) =>
      (opts.includeDisabled || r.enabled) &&
      priorityRank(r.priority) <= min &&
      (!run || r.tags.some((t) => run.includes(t))) &&
      !r.tags.some((t) => off.includes(t)) &&
      !offNames.some((n) => r.name.includes(n)));
    for (const r of this.rules) this.outputs.set(r, compileOutput(r.output, fieldRegistry));
    const any = this.rules.filter((r) => r.evtTypes === null);
    this.anyType = this.bucket(any);
    const types = new Set<string>();
    for (const r of this.rules) r.evtTypes?.forEach((t) => types.add(t));
    for (const t of types) {
      this.byType.set(t, this.bucket(this.rules.filter((r) => r.evtTypes === null || r.evtTypes.has(t)), t));
    }
  }

  /** `evtType`: every event routed to this bucket has it (the byType buckets). */
  private bucket(rules: CompiledRule[], evtType?: string): Bucket {
    const fns = this.loaded.compiler.compileBucket(rules.map((r) => r.plan), evtType);
    return { rules, outputs: rules.map((r) => this.outputs.get(r)!), ...fns };
  }

  private readonly hits: number[] = [];

  /** Indexes (in the bucket) of the rules the context's event matches; reuses one array. */
  private matchIndexes(b: Bucket): number[] {
    const hits = this.hits;
    hits.length = 0;
    if (this.firstOnly) {
      const i = b.first(this.ctx);
      if (i >= 0) hits.push(i);
    } else b.all(this.ctx, hits);
    return hits;
  }

  /** The rules an event matches, in load order (only the first with `ruleMatching: first`). */
  match(ev: RuntimeEvent): CompiledRule[] {
    const b = this.bucketFor(ev);
    this.ctx.reset(ev);
    return this.matchIndexes(b).map((i) => b.rules[i]!);
  }

  /** Number of rules an event matches, without building alerts (the hot path of benches). */
  countMatches(ev: RuntimeEvent): number {
    const b = this.bucketFor(ev);
    this.ctx.reset(ev);
    if (this.firstOnly) return b.first(this.ctx) >= 0 ? 1 : 0;
    return this.matchIndexes(b).length;
  }

  /** Alerts (Falco JSON shape) for every rule the event matches. */
  evaluate(ev: RuntimeEvent): Alert[] {
    const b = this.bucketFor(ev);
    this.ctx.reset(ev);
    if (this.firstOnly) {
      const i = b.first(this.ctx);
      return i < 0 ? [] : [makeAlert(b.rules[i]!, b.outputs[i]!, ev, this.opts.hostname)];
    }
    return this.matchIndexes(b).map((i) => makeAlert(b.rules[i]!, b.outputs[i]!, ev, this.opts.hostname));
  }

  private bucketFor(ev: RuntimeEvent): Bucket {
    const src = ev['evt.source'];
    if (src !== undefined && src !== 'syscall') return this.sourceBucket(String(src));
    const t = ev['evt.type'];
    return (typeof t === 'string' && this.byType.get(t)) || this.anyType;
  }

  private readonly otherSources = new Map<string, Bucket>();
  private sourceBucket(src: string): Bucket {
    let b = this.otherSources.get(src);
    if (!b) {
      b = this.bucket(this.rules.filter((r) => r.source === src));
      this.otherSources.set(src, b);
    }
    return b;
  }

  /** A rule's condition with macros and lists expanded, fully bracketed. */
  expandedCondition(rule: string): string | undefined {
    const e = this.loaded.expanded.get(rule);
    return e ? exprText(e) : undefined;
  }

  /** Every distinct field the compiled rules read. */
  fieldsUsed(): Array<{ field: string; def?: FieldDef }> {
    const seen = new Map<string, FieldDef | undefined>();
    for (const u of this.loaded.compiler.used) {
      const key = u.arg === undefined ? u.name : `${u.name}[${u.arg}]`;
      if (!seen.has(key)) seen.set(key, u.def);
    }
    return [...seen].map(([field, def]) => (def ? { field, def } : { field }));
  }

  /** Fields the rules read that no Gatehouse event source fills yet, with the reason. */
  unsuppliedFields(): Array<{ field: string; reason: string }> {
    return this.fieldsUsed()
      .filter((f) => f.def?.unsupplied)
      .map((f) => ({ field: f.field, reason: f.def!.unsupplied! }));
  }
}

export function loadRuleSet(files: string[], opts: RuleSetOptions & LoadOptions = {}): RuleSet {
  return new RuleSet(loadRuleFiles(files, opts), opts);
}

export function ruleSetFromText(sources: RuleSource[], opts: RuleSetOptions & LoadOptions = {}): RuleSet {
  return new RuleSet(loadRules(sources, opts), opts);
}
