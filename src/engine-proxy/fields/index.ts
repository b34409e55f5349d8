/** The engine-request field set: every fact the proxy records, one file per group. */
import { FieldRegistry } from '../../policy/fields.js';
import type { Facts } from '../facts.js';
import { buildFields } from './build.js';
import { containerFields } from './container.js';
import { execFields } from './exec.js';
import { imageFields } from './image.js';
import { requestFields } from './request.js';
import { targetFields } from './target.js';
import { volumeFields } from './volume.js';

export function engineRequestFieldRegistry(): FieldRegistry<Facts> {
  return new FieldRegistry<Facts>()
    .register(requestFields)
    .register(containerFields)
    .register(imageFields)
    .register(execFields)
    .register(targetFields)
    .register(buildFields)
    .register(volumeFields);
}

/** Fields computed from other facts; a recorded facts object never carries them. */
export const DERIVED_FIELDS: ReadonlySet<string> = new Set(['container.sensitiveBinds', 'volume.sensitiveDevices']);
