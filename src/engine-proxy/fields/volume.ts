/**
 * Fields of volume.create, and of volumes declared inline in container.create's Mounts:
 * the local driver's `device` option with `o=bind` mounts any host path as a volume.
 */
import { fact, type EngineFieldDef } from './fact.js';
import { sensitive } from './container.js';

export const volumeFields: EngineFieldDef[] = [
  fact('volume.name', 'string', 'name of the volume'),
  fact('volume.driver', 'string', 'volume driver (local when not given)'),
  fact('volume.options', 'list', 'driver options as key=value (keys lower case)'),
  fact('volume.devices', 'list', 'host paths given as the local driver\'s device option (volume.create and inline Mounts of container.create)'),
  {
    name: 'volume.sensitiveDevices',
    type: 'list',
    target: 'request',
    description: 'volume.devices that hand over the host, by the same list as container.sensitiveBinds',
    extract: (f) => sensitive(f['volume.devices'], 'volume.devices'),
  },
];
