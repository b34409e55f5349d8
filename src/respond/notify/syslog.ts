/**
 * Notify syslog in RFC 5424's format, over UDP (one message a datagram, RFC 5426) or TCP
 * (octet-counting framing, RFC 6587 §3.4.1): `<PRI>1 TIMESTAMP HOST gatehouse PID MSGID
 * [gatehouse@32473 action="…" outcome="…" target="…" policies="…"] TEXT`. The severity is the
 * notice's Falco priority (the two scales are the same eight levels, Emergency..Debug).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { PRIORITIES } from '../../runtime/rules/priority.js';
import { UserError } from '../../util/errors.js';
import type { Notice, Notifier } from './notice.js';
import { describeTarget } from '../types.js';

/** Facility numbers by name (RFC 5424 table 1). */
export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
/** The documentation enterprise number (RFC 5612), for the structured-data id. */
const SD_ID = 'gatehouse@32473';

export interface SyslogOptions {
  /** `udp://host:port` or `tcp://host:port` (port 514 by default). */
  url: string;
  facility?: string;
  appName?: string;
  hostname?: string;
}

const sdEscape = (v: string) => v.replace(/[\\"\]]/g, (c) => `\\${c}`);
/** PRINTUSASCII without spaces, at most `max` characters; `-` when empty. */
const header = (v: string, max: number) => v.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';

export function formatSyslog(n: Notice, o: { facility: number; appName: string; hostname: string; pid: number }): string {
  const severity = Math.max(0, PRIORITIES.indexOf(n.priority));
  const params: [string, string | undefined][] = [
    ['action', n.result?.action],
    ['outcome', n.result?.outcome],
    ['target', n.result ? describeTarget(n.result.target) : undefined],
    ['policies', n.trigger?.policies?.join(',')],
    ['incident', n.trigger?.incident],
    ['rule', n.alert?.rule ?? n.trigger?.alert?.rule],
    ['evidence', n.result?.evidence],
  ];
  const sd = params.filter(([, v]) => v).map(([k, v]) => ` ${k}="${sdEscape(v!)}"`).join('');
  const msgid = n.result ? 'response' : 'alert';
  return `<${o.facility * 8 + severity}>1 ${n.time.toISOString()} ${header(o.hostname, 255)} ${header(o.appName, 48)} ${o.pid} ${msgid} ${sd ? `[${SD_ID}${sd}]` : '-'} ${n.text.replace(/\n/g, ' ')}`;
}

export class SyslogNotifier implements Notifier {
  readonly name = 'syslog';
  private readonly proto: 'udp' | 'tcp';
  private readonly host: string;
  private readonly port: number;
  private readonly facility: number;
  private readonly appName: string;
  private readonly hostname: string;
  private udp: UdpSocket | undefined;
  private tcp: Promise<Socket> | undefined;

  constructor(opts: SyslogOptions) {
    const m = /^(udp|tcp):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?\/?$/.exec(opts.url);
    if (!m || Number(m[3] ?? 514) > 65535) throw new UserError(`syslog address "${opts.url}": expected udp://HOST[:PORT] or tcp://HOST[:PORT]`, 'usage');
    this.proto = m[1] as 'udp' | 'tcp';
    this.host = m[2]!.replace(/^\[|\]$/g, '');
    this.port = Number(m[3] ?? 514);
    const facility = FACILITIES[opts.facility ?? 'local0'];
    if (facility === undefined) throw new UserError(`unknown syslog facility "${opts.facility}" (one of ${Object.keys(FACILITIES).join(', ')})`, 'usage');
    this.facility = facility;
    this.appName = opts.appName ?? 'gatehouse';
    this.hostname = opts.hostname ?? hostname();
  }

  format(n: Notice): string {
    return formatSyslog(n, { facility: this.facility, appName: this.appName, hostname: this.hostname, pid: process.pid });
  }

  async send(n: Notice): Promise<void> {
    const msg = Buffer.from(this.format(n), 'utf8');
    if (this.proto === 'udp') {
      this.udp ??= createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
      const sock = this.udp;
      await new Promise<void>((resolve, reject) => sock.send(msg, this.port, this.host, (e) => (e ? reject(e) : resolve())));
      return;
    }
    const sock = await this.connection();
    await new Promise<void>((resolve, reject) => sock.write(Buffer.concat([Buffer.from(`${msg.length} `), msg]), (e) => (e ? reject(e) : resolve())));
  }

  private connection(): Promise<Socket> {
    if (!this.tcp) {
      this.tcp = new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: this.host, port: this.port });
        s.once('connect', () => {
          s.off('error', reject);
          // A dropped connection is made again on the next notice.
          s.on('error', () => (this.tcp = undefined));
          s.on('close', () => (this.tcp = undefined));
          resolve(s);
        });
        s.once('error', (e) => {
          this.tcp = undefined;
          reject(new Error(`syslog tcp://${this.host}:${this.port}: ${e.message}`));
        });
      });
    }
    return this.tcp;
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    const t = this.tcp;
    this.tcp = undefined;
    if (t) {
      const s = await t.catch(() => undefined);
      if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
    }
  }
}
