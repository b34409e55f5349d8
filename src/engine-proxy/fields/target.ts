/**
 * Fields of the container a request addresses (exec, attach, kill, stop, rm, commit, …).
 * All but target.ref are looked up from the engine, only when a policy in scope reads them.
 */
import { fact, type EngineFieldDef } from './fact.js';

export const targetFields: EngineFieldDef[] = [
  fact('target.ref', 'string', 'the container id or name in the request path (commit: ?container=)'),
  fact('target.id', 'string', 'id of the addressed container'),
  fact('target.name', 'string', 'name of the addressed container (without the leading /)'),
  fact('target.image', 'string', 'image of the addressed container'),
  fact('target.labels', 'list', 'labels of the addressed container as key=value'),
  fact('target.labelKeys', 'list', 'label keys of the addressed container'),
];
