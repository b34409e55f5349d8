/** What Central's routes and background jobs share: the store and the policy state. */
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import { ImagePool } from './images/image-pool.js';
import { CentralPolicies } from './policies.js';
import type { Store } from './store/open.js';
import type { Database } from './store/schema.js';
import { loadSecretBox, type SecretBox } from './secret-box.js';

export interface CentralContext {
  store: Store;
  db: Kysely<Database>;
  /** Injected clock, so expiry is testable. */
  now(): Date;
  /** Change notices for background work: 'image' (digest), 'objects' (source id), 'policies', 'exceptions', 'db'. */
  events: EventEmitter;
  policies: CentralPolicies;
  /** Seals source credentials (kubeconfigs, engine TLS keys) in the store. */
  secrets: SecretBox;
  /** Image workers for pushes and re-matches (started on first use, stopped when idle). */
  imagePool: ImagePool;
  /** Central's data directory (TLS material, the data key, evidence bundles), when it has one. */
  dataDir?: string;
}

/** Builds the context: syncs the built-in policy packs into the store and compiles the current set. */
export async function createCentralContext(store: Store, now: () => Date = () => new Date(), options: { dataDir?: string } = {}): Promise<CentralContext> {
  const policies = await new CentralPolicies(store.db).init(now());
  return { store, db: store.db, now, events: new EventEmitter(), policies, secrets: loadSecretBox(options.dataDir), imagePool: new ImagePool(() => policies), ...(options.dataDir ? { dataDir: options.dataDir } : {}) };
}
