/** Every API resource, registered once. A new resource is one file and one line here. */
import type { ApiModule } from './module.js';
import { healthApi } from './health.js';
import { openapiApi } from './openapi.js';
import { tokensApi } from './tokens.js';
import { imagesApi } from './images.js';
import { ingestImagesApi } from './ingest-images.js';
import { ingestEventsApi } from './ingest-events.js';
import { alertsApi, decisionsApi } from './alerts.js';
import { ingestFindingsApi } from './ingest-findings.js';
import { policiesApi } from './policies.js';
import { exceptionsApi } from './exceptions.js';
import { violationsApi } from './violations.js';
import { ciApi } from './ci.js';
import { registryWatchesApi } from './registry-watches.js';
import { deploymentsApi } from './deployments.js';
import { clustersApi, hostsApi } from './sources.js';
import { streamApi } from './stream.js';
import { complianceApi } from './compliance.js';
import { imageSbomApi } from './image-sbom.js';
import { summaryApi } from './summary.js';
import { policyDryRunApi } from './policy-dry-run.js';
import { incidentsApi } from './incidents.js';
import { metricsApi } from './metrics.js';
import { networkApi } from './network.js';
import { networkPoliciesApi } from './network-policies.js';
import { identitiesApi } from './identities.js';
import { responseActionsApi } from './response-actions.js';
import { evidenceApi } from './evidence.js';
import { trendsApi } from './trends.js';
import { baselinesApi } from './baselines.js';
import { deploymentVulnerabilitiesApi } from './deployment-vulnerabilities.js';
import { whoamiApi } from './whoami.js';

export const API_MODULES: ApiModule[] = [
  healthApi,
  openapiApi,
  tokensApi,
  imagesApi,
  ingestImagesApi,
  ingestEventsApi,
  alertsApi,
  decisionsApi,
  ingestFindingsApi,
  policiesApi,
  exceptionsApi,
  violationsApi,
  ciApi,
  registryWatchesApi,
  deploymentsApi,
  clustersApi,
  hostsApi,
  streamApi,
  complianceApi,
  imageSbomApi,
  summaryApi,
  policyDryRunApi,
  metricsApi,
  incidentsApi,
  networkApi,
  networkPoliciesApi,
  identitiesApi,
  responseActionsApi,
  evidenceApi,
  trendsApi,
  baselinesApi,
  deploymentVulnerabilitiesApi,
  whoamiApi,
];
