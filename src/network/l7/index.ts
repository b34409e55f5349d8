/** L7 (API layer): HTTP access logs to Istio AuthorizationPolicy suggestions. */
export { parseAccessLog, principalOf, xfccPrincipal, type ApiCall, type Caller, type ParsedLog } from './access-log.js';
export { authzFromAccessLogs, authzFromCalls, authzJson, isIdSegment, istioPath, namespaceOfPrincipal, pathTemplate, REFUSED_STATUSES, selectorsFromModel, type AuthzOptions, type AuthzResult, type ObservedOperation } from './authz.js';
