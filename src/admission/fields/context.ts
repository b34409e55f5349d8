/** What admission fields read: one AdmissionReview request. */
import type { FieldDef as PolicyFieldDef } from '../../policy/fields.js';
import type { AdmissionRequest } from '../review.js';

export interface AdmissionContext {
  request: AdmissionRequest;
}

/** Every admission field reads the request (the subject's only level). */
export type FieldDef = PolicyFieldDef<AdmissionContext> & { target: 'request' };
