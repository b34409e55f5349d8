/** The runtime field set: the alert, and the process/container/k8s/fd facts of its event. */
import { FieldRegistry } from '../../policy/fields.js';
import { alertFields } from './alert.js';
import type { RuntimeContext } from './context.js';
import { eventFields } from './event.js';

export function runtimeFieldRegistry(): FieldRegistry<RuntimeContext> {
  return new FieldRegistry<RuntimeContext>().register(alertFields).register(eventFields);
}
