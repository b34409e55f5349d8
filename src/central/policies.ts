/**
 * The policies and exceptions Central enforces now: compiled once into a PolicySet and
 * rebuilt when an admin changes them, so every evaluation (inventory changes, CI checks,
 * re-matching) uses the same set.
 */
import type { Kysely } from 'kysely';
import { BUILTIN_PACKS } from '../policy/builtin.js';
import { compilePolicySet, type PolicySet } from '../policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../policy/pack.js';
import type { SubjectRegistry } from '../policy/subject.js';
import type { Policy } from '../policy/types.js';
import { subjects as sharedSubjects } from '../subjects/index.js';
import { loadExceptions, type StoredException } from './store/exceptions.js';
import { loadPolicies, upsertPolicies } from './store/policies.js';
import type { Database } from './store/schema.js';

export class CentralPolicies {
  set!: PolicySet;
  /** The policies the set was compiled from (image workers compile their own copy). */
  list: Policy[] = [];
  exceptions: StoredException[] = [];
  /** Bumped on every change, so caches keyed on it go stale. */
  version = 0;

  constructor(private readonly db: Kysely<Database>, readonly subjects: SubjectRegistry = sharedSubjects()) {}

  /** Syncs the built-in packs into the store, then loads. */
  async init(now: Date): Promise<this> {
    for (const name of BUILTIN_PACKS) {
      const loaded = await loadPacks([{ ...resolvePackInput(name), builtin: true }], this.subjects);
      await this.db.transaction().execute((trx) => upsertPolicies(trx, name, loaded.policies, now.toISOString(), { keepEnabled: true }));
    }
    await this.reload();
    return this;
  }

  async reload(): Promise<void> {
    const stored = await loadPolicies(this.db);
    this.exceptions = await loadExceptions(this.db);
    this.list = stored.map((s) => s.policy);
    this.set = compilePolicySet(this.list, this.subjects);
    this.version++;
  }
}
