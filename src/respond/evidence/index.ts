/** Forensic evidence bundles: capture (before any destructive action) and verification. */
export { collectEvidence, type CollectEvidenceOptions, type EvidenceResult, type ChangedFile } from './collect.js';
export { verifyEvidence, type VerifyEvidenceOptions, type EvidenceVerification } from './verify.js';
export { DEFAULT_LIMITS, EVIDENCE_SCHEMA, type EvidenceManifest, type EvidenceLimits, type EvidenceIncident, type ManifestPart } from './manifest.js';
export { EngineApi, defaultEngineHost, type ContainerInspect, type ContainerChange } from './engine.js';
