/**
 * Versioned migrations, run in name order at every start (Kysely's Migrator records which
 * ran). A schema change is one new file here and one line below.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as registryWatches from './0002-registry-watches.js';
import * as eventDeployments from './0003-event-deployments.js';
import * as deploymentsByRiskDesc from './0004-deployments-by-risk-desc.js';
import * as imageFindingDocs from './0005-image-finding-docs.js';
import * as imageSboms from './0006-image-sboms.js';
import * as incidents from './0007-incidents.js';
import * as networkFlows from './0008-network-flows.js';
import * as leases from './0009-leases.js';
import * as responseActions from './0010-response-actions.js';
import * as imageProvenance from './0011-image-provenance.js';
import * as baselines from './0012-baselines.js';
import * as sharedAdvisories from './0013-shared-advisories.js';
import * as registryWatchTags from './0014-registry-watch-tags.js';
import * as sbomComponentLists from './0015-sbom-component-lists.js';
import * as incidentTimeline from './0016-incident-timeline.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-registry-watches': registryWatches,
  '0003-event-deployments': eventDeployments,
  '0004-deployments-by-risk-desc': deploymentsByRiskDesc,
  '0005-image-finding-docs': imageFindingDocs,
  '0006-image-sboms': imageSboms,
  '0007-incidents': incidents,
  '0008-network-flows': networkFlows,
  '0009-leases': leases,
  '0010-response-actions': responseActions,
  '0011-image-provenance': imageProvenance,
  '0012-baselines': baselines,
  '0013-shared-advisories': sharedAdvisories,
  '0014-registry-watch-tags': registryWatchTags,
  '0015-sbom-component-lists': sbomComponentLists,
  '0016-incident-timeline': incidentTimeline,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
