/**
 * A subject is what a policy is about. The policy engine knows subjects only through
 * adapters that engines register: each adapter owns a field registry and turns one subject
 * value (a scan result, a manifest set, an AdmissionReview, an engine request, an alert)
 * into nodes the evaluator walks. Adding a subject is one adapter file in its engine plus
 * one line in src/subjects/index.ts.
 */
import type { FindingKind, ResourceRef } from '../findings/finding.js';
import type { FieldPath } from '../util/positioned-yaml.js';
import { UserError } from '../util/errors.js';
import { closest, type FieldRegistry } from './fields.js';
import { SUBJECT_KINDS, type ScopeKey, type Stage, type SubjectKind } from './types.js';

/** What scope keys are matched against. A node fills what it knows. */
export interface ScopeFacts {
  cluster?: string;
  namespace?: string;
  kind?: string;
  labels?: Record<string, string>;
  /** Images of the node (a workload's containers, the image itself); any may match. */
  images?: readonly string[];
  action?: string;
}

/** One thing the evaluator checks: the subject's root, or one of its elements. */
export interface SubjectNode<C> {
  ctx: C;
  scope: ScopeFacts;
  /** How a finding names it: `Deployment prod/web container "app"`, `CVE-… in openssl`. */
  label: string;
  /** Where a violation lives, given the path of the value that violated (if any). */
  resource(path?: FieldPath): ResourceRef;
  /** Extra data copied into the finding (image, package, rule…). */
  data?: Record<string, unknown>;
  /** A stable identity for the fingerprint (defaults to the label). */
  identity?: string;
}

export interface SubjectAdapter<S = unknown, C = unknown> {
  kind: SubjectKind;
  /** One line for `gatehouse policy fields`. */
  description: string;
  /** The stage a policy about this subject belongs to when it names none. */
  defaultStage: Stage;
  /** The Finding kind violations of this subject report as. */
  findingKind: FindingKind;
  fields: FieldRegistry<C>;
  /** Name of the root target (fields with another target are element fields). */
  rootTarget: string;
  /** Element targets: how to expand a root node into the nodes of each element level. */
  elements: Record<string, (root: SubjectNode<C>) => readonly SubjectNode<C>[]>;
  /** One-line docs of each element target, for the field listing. */
  targetDocs?: Record<string, string>;
  /** The scope keys this subject understands; any other is a pack error. */
  scopeKeys: readonly ScopeKey[];
  /** The root nodes of one subject value (a manifest set yields one per object). */
  roots(subject: S): Iterable<SubjectNode<C>>;
  /** Checks a subject value given as plain data (policy test/eval files); throws a UserError. */
  fromData?(data: unknown, file: string): S | Promise<S>;
  /** Reads a subject value from a file when the format needs more than plain data (positions). */
  fromFile?(file: string): Promise<S>;
}

/** The subjects known to one process: an instance, injected where packs are loaded. */
export class SubjectRegistry {
  private readonly adapters = new Map<SubjectKind, SubjectAdapter<any, any>>();

  constructor(adapters: readonly SubjectAdapter<any, any>[] = []) {
    for (const a of adapters) this.register(a);
  }

  register(adapter: SubjectAdapter<any, any>): this {
    if (this.adapters.has(adapter.kind)) throw new Error(`subject ${adapter.kind} registered twice`);
    this.adapters.set(adapter.kind, adapter);
    return this;
  }

  get(kind: string): SubjectAdapter<any, any> | undefined {
    return this.adapters.get(kind as SubjectKind);
  }

  /** The adapter of `kind`, or a one-line UserError with a did-you-mean. */
  require(kind: string): SubjectAdapter<any, any> {
    const adapter = this.get(kind);
    if (adapter) return adapter;
    const guess = this.suggest(kind);
    throw new UserError(`unknown subject "${kind}"${guess ? ` (did you mean "${guess}"?)` : ''} (expected ${this.kinds().join(', ')})`, 'usage');
  }

  kinds(): SubjectKind[] {
    return SUBJECT_KINDS.filter((k) => this.adapters.has(k));
  }

  suggest(kind: string): string | undefined {
    return closest(kind, this.kinds());
  }
}
