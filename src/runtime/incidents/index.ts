/** Correlated incidents: the engine (a library; Central and tests feed it). */
export * from './types.js';
export { IncidentCorrelator, DEFAULT_IGNORED_RULES, isInternalIp, type CorrelatorOptions } from './engine.js';
export { parseAttackMap, defaultAttackMap, type AttackMap } from './attack.js';
export { auditEventsOf, auditLogEvents } from './audit.js';
