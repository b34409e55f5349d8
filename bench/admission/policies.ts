/**
 * The 50 admission policies of `bench:admission`, written twice from one table: as a
 * Gatehouse policy pack (workload subject, deny-admission) and as Rego for OPA serving
 * AdmissionReview itself (`data.system.main`, OPA's default decision for `POST /`).
 *
 * 12 are the checks clusters commonly enforce (host namespaces, privileged, privilege
 * escalation, added capabilities, host ports, hostPath, missing limits, `latest`), and 38
 * are a registry deny-list, one policy per registry, the way organizations grow such lists.
 * Every one is evaluated on every container of every request; the bench's pods break none.
 */

export interface BenchPolicy {
  id: string;
  /** The Gatehouse criterion (YAML flow mapping) and whether it is read per container. */
  criteria: string;
  /** A Rego rule body adding a message to `deny` (`c` is a container, `spec` the pod spec). */
  rego: string;
}

export const BLOCKED_REGISTRIES = Array.from({ length: 38 }, (_, i) => `blocked-${i + 1}.registry.example`);

export const BENCH_POLICIES: BenchPolicy[] = [
  { id: 'host-network', criteria: '{ field: pod.hostNetwork, op: equals, value: true }', rego: 'spec.hostNetwork == true' },
  { id: 'host-pid', criteria: '{ field: pod.hostPID, op: equals, value: true }', rego: 'spec.hostPID == true' },
  { id: 'host-ipc', criteria: '{ field: pod.hostIPC, op: equals, value: true }', rego: 'spec.hostIPC == true' },
  { id: 'host-path', criteria: '{ field: pod.hostPathVolumes, op: exists }', rego: 'some v in spec.volumes; v.hostPath' },
  { id: 'privileged', criteria: '{ field: container.securityContext.privileged, op: equals, value: true }', rego: 'some c in containers; c.securityContext.privileged == true' },
  { id: 'privilege-escalation', criteria: '{ field: container.privilegeEscalation, op: equals, value: true }', rego: 'some c in containers; escalates(c)' },
  { id: 'added-capabilities', criteria: '{ field: container.capabilities.add, op: exists }', rego: 'some c in containers; count(c.securityContext.capabilities.add) > 0' },
  { id: 'host-port', criteria: '{ field: container.ports.hostPort, op: exists }', rego: 'some c in containers; some p in c.ports; p.hostPort' },
  { id: 'memory-limit', criteria: '{ field: container.resources.limits.memory, op: absent }', rego: 'some c in containers; not c.resources.limits.memory' },
  { id: 'cpu-limit', criteria: '{ field: container.resources.limits.cpu, op: absent }', rego: 'some c in containers; not c.resources.limits.cpu' },
  { id: 'latest-tag', criteria: '{ field: container.image.tag, op: equals, value: latest }', rego: 'some c in containers; endswith(c.image, ":latest")' },
  { id: 'read-only-root', criteria: '{ field: container.securityContext.readOnlyRootFilesystem, op: equals, value: false }', rego: 'some c in containers; c.securityContext.readOnlyRootFilesystem == false' },
  ...BLOCKED_REGISTRIES.map((r, i) => ({
    id: `blocked-registry-${i + 1}`,
    criteria: `{ field: container.image, op: matches, value: "^${r.replace(/\./g, '\\\\.')}/" }`,
    rego: `some c in containers; startswith(c.image, "${r}/")`,
  })),
];

/** The Gatehouse pack (`--policy FILE`). */
export function gatehousePack(): string {
  const lines = ['apiVersion: gatehouse.dev/v1', 'kind: PolicyPack', 'metadata:', '  name: bench-admission', 'subject: workload', 'policies:'];
  for (const p of BENCH_POLICIES) {
    lines.push(
      `  - id: bench-${p.id}`,
      `    name: bench ${p.id}`,
      '    severity: HIGH',
      '    stages: [deploy]',
      '    enforcement: [deny-admission]',
      `    criteria: ${p.criteria}`,
      `    remediation: fix ${p.id}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The same policies in Rego (v1 syntax), answering AdmissionReview v1 as `data.system.main`. */
export function regoPolicy(): string {
  const rules = BENCH_POLICIES.map((p) => `deny contains "bench-${p.id}" if {\n\t${p.rego.split('; ').join('\n\t')}\n}`);
  return `package system

main := {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}

response := {"uid": input.request.uid, "allowed": true} if count(deny) == 0

response := {"uid": input.request.uid, "allowed": false, "status": {"message": concat("; ", deny)}} if count(deny) > 0

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

spec := input.request.object.spec if input.request.kind.kind == "Pod"

spec := input.request.object.spec.template.spec if input.request.kind.kind in template_kinds

# An array, not a set: a set of containers would hash every container object per request.
containers := array.concat(object.get(spec, "containers", []), object.get(spec, "initContainers", []))

# container.privilegeEscalation: allowPrivilegeEscalation true, or unset with privileged or CAP_SYS_ADMIN.
escalates(c) if c.securityContext.allowPrivilegeEscalation == true

escalates(c) if {
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], null) == null
	c.securityContext.privileged == true
}

escalates(c) if {
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], null) == null
	some cap in c.securityContext.capabilities.add
	cap in {"SYS_ADMIN", "CAP_SYS_ADMIN"}
}

${rules.join('\n\n')}
`;
}
