/** `--focus-conn` values: "tcp-80", "UDP/53", "sctp 9000". */
import { UserError } from '../../util/errors.js';
import type { Protocol } from './conns.js';

export function parseFocusConn(text: string): { protocol: Protocol; port: number } {
  const m = /^(tcp|udp|sctp)[-/ ](\d{1,5})$/i.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UserError(`--focus-conn must look like tcp-80, udp-53 or sctp-9000; got ${JSON.stringify(text)}`, 'bad-option');
  return { protocol: m[1]!.toUpperCase() as Protocol, port };
}
