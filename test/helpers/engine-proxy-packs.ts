/** Engine-request policy packs the engine proxy's tests share. */

/** Denies `docker info`: a decision that is easy to make and to recognise. */
export const DENY_INFO = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: no-info }
subject: engine-request
policies:
  - id: T-INFO
    name: system info is off limits
    severity: MEDIUM
    scope: { actions: [system.info] }
    criteria: { field: action, op: exists }
    enforcement: [block]
`;
