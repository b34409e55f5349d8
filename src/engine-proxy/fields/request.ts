/** Fields of every request: the classified action, the HTTP request and the caller. */
import { fact, type EngineFieldDef } from './fact.js';

export const requestFields: EngineFieldDef[] = [
  fact('action', 'string', 'the classified endpoint (container.create, exec.create, image.pull, …; unknown for anything else)'),
  fact('request.method', 'string', 'HTTP method of the request'),
  fact('request.path', 'string', 'request path without the /vX.Y API version prefix'),
  fact('caller.uid', 'number', 'uid of the calling process (unix socket peer credentials)'),
  fact('caller.gid', 'number', 'gid of the calling process (unix socket peer credentials)'),
  fact('caller.pid', 'number', 'pid of the calling process (unix socket peer credentials)'),
  fact('caller.user', 'string', 'user name of caller.uid'),
  fact('caller.cn', 'string', 'common name of the client certificate (tcp:// listen with TLS)'),
  fact('caller.transport', 'string', 'how the caller connected: unix or tls'),
];
