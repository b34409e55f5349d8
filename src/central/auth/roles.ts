/** Roles of API tokens and what each may do. A route names the one permission it needs. */
export const ROLES = ['admin', 'analyst', 'ci', 'sensor', 'admission'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'read' // every GET of the inventory, findings, violations, alerts, policies
  | 'admin' // tokens, clusters, hosts, policies and exceptions changes
  | 'ingest:scans' // image scans, SBOMs, signature status, k8s check and registry audit findings
  | 'ingest:events' // alerts and decisions
  | 'ci:check' // verdicts against Central's policies
  | 'self'; // what the calling token is (whoami): every role

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'admin', 'ingest:scans', 'ingest:events', 'ci:check', 'self'],
  analyst: ['read', 'self'],
  ci: ['ingest:scans', 'ci:check', 'self'],
  sensor: ['ingest:events', 'self'],
  admission: ['ingest:events', 'ci:check', 'self'],
};

export function roleAllows(role: string, permission: Permission): boolean {
  return (GRANTS as Record<string, readonly Permission[] | undefined>)[role]?.includes(permission) ?? false;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
