/** Fields of exec.create (POST /containers/{id}/exec). */
import { fact, type EngineFieldDef } from './fact.js';

export const execFields: EngineFieldDef[] = [
  fact('exec.user', 'string', 'user the command runs as (empty: the container\'s)'),
  fact('exec.privileged', 'boolean', 'privileged exec'),
  fact('exec.cmd', 'list', 'the command and its arguments'),
  fact('exec.tty', 'boolean', 'a TTY is allocated'),
];
