/**
 * Compliance (issue 22 items 3 and 4): cluster-level checks, frameworks as data
 * (policies/frameworks/), and per-control reports. The library API:
 *
 *   const report = await buildComplianceReport('cis-kubernetes', { objects, source, results });
 *   const text = renderCompliance(report, 'html');
 *
 * `objects` (manifests or a live cluster) run the deploy pack, the RBAC risks and the
 * cluster-level checks; `results` carry other engines' CheckResults (node checks).
 */
export { buildComplianceReport, evaluateControls, gatherResults, CONTROL_STATUSES, type ComplianceInputs, type ComplianceReport, type ControlResult, type ControlStatus, type ReportOptions } from './report.js';
export { renderCompliance, COMPLIANCE_FORMATS, CSV_HEADER, type ComplianceFormat } from './render.js';
export { loadFramework, FRAMEWORKS, FrameworkLoadError, frameworksDir, isFrameworkId, type Control, type Framework, type FrameworkId } from './framework.js';
export { builtinCatalog, type CatalogEntry, type CheckCatalog, type RegisteredCheck } from './catalog.js';
export { runClusterChecks, namespacesOf, CLUSTER_CHECKS, ADMISSION_KINDS } from './cluster-checks.js';
export { MESH_KINDS } from './mesh.js';
export { runDeployPolicies } from './policy-results.js';
export { readSavedReport, resultsFromReport } from './saved-reports.js';
