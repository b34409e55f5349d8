/**
 * Every subject the policy engine knows, registered in one place: the composition root
 * that the CLI, Central, the admission webhook and the sensor agent share. A new subject is
 * one adapter file in its engine plus one line here.
 */
import { SubjectRegistry } from '../policy/subject.js';
import { workloadSubject } from '../kube/subject.js';
import { admissionSubject } from '../admission/subject.js';
import { runtimeSubject } from '../runtime/subject.js';
import { engineRequestSubject } from '../engine-proxy/subject.js';
import { imageSubject } from '../vuln/image-subject.js';
import { connectionSubject } from './connection.js';

let shared: SubjectRegistry | undefined;

/** A fresh registry of every subject (tests build their own). */
export function createSubjects(): SubjectRegistry {
  return new SubjectRegistry([
    workloadSubject(),
    admissionSubject(),
    runtimeSubject(),
    engineRequestSubject(),
    imageSubject(),
    connectionSubject(),
  ]);
}

/** The process-wide registry (field registries are built once). */
export function subjects(): SubjectRegistry {
  return (shared ??= createSubjects());
}
