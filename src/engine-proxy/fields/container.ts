/** Fields of container.create (query and body: Config + HostConfig) and container.update. */
import { hit, type FieldHit } from '../../policy/fields.js';
import { sensitiveHostPath } from '../../util/host-paths.js';
import { fact, type EngineFieldDef } from './fact.js';

export const containerFields: EngineFieldDef[] = [
  fact('container.name', 'string', 'name given with ?name= on container.create'),
  fact('container.privileged', 'boolean', 'HostConfig.Privileged'),
  fact('container.capAdd', 'list', 'added capabilities, upper case without CAP_ (HostConfig.CapAdd)'),
  fact('container.networkMode', 'string', 'HostConfig.NetworkMode'),
  fact('container.pidMode', 'string', 'HostConfig.PidMode'),
  fact('container.ipcMode', 'string', 'HostConfig.IpcMode'),
  fact('container.uTSMode', 'string', 'HostConfig.UTSMode'),
  fact('container.usernsMode', 'string', 'HostConfig.UsernsMode'),
  fact('container.cgroupnsMode', 'string', 'HostConfig.CgroupnsMode'),
  fact('container.hostNamespaces', 'list', 'host namespaces joined: network, pid, ipc, uts, userns, cgroupns'),
  fact('container.bindSources', 'list', 'host paths bind-mounted (Binds and Mounts of type bind), normalized'),
  {
    name: 'container.sensitiveBinds',
    type: 'list',
    target: 'request',
    description: 'bind-mounted host paths that hand over the host: runtime sockets and state, /etc, /proc, /sys, /, … (src/util/host-paths.ts)',
    extract: (f) => sensitive(f['container.bindSources'], 'container.bindSources'),
  },
  fact('container.devices', 'list', 'host devices (HostConfig.Devices[].PathOnHost; container.update too)'),
  fact('container.securityOpt', 'list', 'HostConfig.SecurityOpt as key=value (seccomp:x is read as seccomp=x)'),
  fact('container.user', 'string', 'Config.User as given (empty: the image\'s user)'),
  fact('container.runsAsRoot', 'boolean', 'the user is root, 0 or not given (the image\'s user, root unless it says otherwise)'),
  fact('container.labels', 'list', 'labels as key=value'),
  fact('container.readonlyRootfs', 'boolean', 'HostConfig.ReadonlyRootfs'),
  fact('container.volumesFrom', 'list', 'HostConfig.VolumesFrom'),
];

/** Host paths of a list fact that sensitiveHostPath() names, with why. */
export function sensitive(v: unknown, from: string): FieldHit[] {
  if (!Array.isArray(v)) return [];
  const out: FieldHit[] = [];
  for (const p of v) {
    const why = typeof p === 'string' ? sensitiveHostPath(p) : undefined;
    if (why) out.push(hit(p, [from], why));
  }
  return out;
}
