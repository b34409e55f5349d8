/** The admission field set: request, object, exec and placement groups, one line each. */
import { FieldRegistry } from '../../policy/fields.js';
import type { AdmissionContext } from './context.js';
import { execFields } from './exec.js';
import { objectFields } from './object.js';
import { placementFields } from './placement.js';
import { requestFields } from './request.js';

export function admissionFieldRegistry(): FieldRegistry<AdmissionContext> {
  return new FieldRegistry<AdmissionContext>()
    .register(requestFields)
    .register(objectFields)
    .register(execFields)
    .register(placementFields);
}
