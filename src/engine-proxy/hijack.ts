/**
 * Splicing a hijacked connection (attach, exec start): the docker CLI asks to upgrade
 * the HTTP connection to a raw stream. Until the engine has actually answered
 * `101 Switching Protocols`, only the request's own bytes (head + Content-Length body)
 * go upstream. Otherwise a client could ask for an upgrade the engine then refuses
 * (404, 409) and send a second request, never seen by the policy, down the same spliced
 * connection. After a refusal the engine's answer is relayed and the connection closed.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface SpliceOptions {
  client: Duplex;
  upstream: Socket;
  /** The request head to send upstream, ending in CRLFCRLF. */
  requestHead: string;
  /** Request body length (Content-Length; 0 if none). */
  bodyLength: number;
  /** Bytes the HTTP parser had already read past the request head. */
  head: Buffer;
  onDone: () => void;
}

export function spliceHijack(o: SpliceOptions): void {
  const { client, upstream } = o;
  let bodyLeft = o.bodyLength;
  // Client bytes beyond the request, held until the engine agrees to switch protocols.
  const held: Buffer[] = [];
  let state: 'request' | 'awaiting' | 'upgraded' | 'refused' = 'request';
  let responseHead = Buffer.alloc(0);

  const finish = () => {
    client.destroy();
    upstream.destroy();
    o.onDone();
  };
  const fromClient = (d: Buffer) => {
    if (state === 'upgraded') return;
    if (bodyLeft > 0) {
      const part = d.subarray(0, bodyLeft);
      bodyLeft -= part.length;
      upstream.write(part);
      d = d.subarray(part.length);
    }
    if (d.length && state !== 'refused') held.push(d);
    if (bodyLeft === 0 && state === 'request') state = 'awaiting';
  };
  const fromUpstream = (d: Buffer) => {
    if (state === 'refused') {
      client.write(d);
      return;
    }
    responseHead = Buffer.concat([responseHead, d]);
    const end = responseHead.indexOf('\r\n\r\n');
    if (end < 0) {
      if (responseHead.length > 64 * 1024) finish();
      return;
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(responseHead.subarray(0, 16).toString('latin1'))?.[1];
    upstream.off('data', fromUpstream);
    client.off('data', fromClient);
    if (status === '101') {
      state = 'upgraded';
      client.write(responseHead);
      for (const h of held) upstream.write(h);
      held.length = 0;
      client.pipe(upstream);
      upstream.pipe(client);
    } else {
      // Relay the refusal, then close: nothing more from this client reaches the engine.
      state = 'refused';
      client.write(responseHead);
      upstream.on('data', fromUpstream);
      upstream.end();
      client.on('data', () => {});
      upstream.on('end', () => client.end());
    }
  };

  client.on('error', finish);
  upstream.on('error', finish);
  upstream.on('close', () => {
    if (state !== 'upgraded' && state !== 'refused') finish();
    else o.onDone();
  });
  client.on('close', () => upstream.destroy());
  upstream.on('data', fromUpstream);
  upstream.write(o.requestHead);
  fromClient(o.head);
  client.on('data', fromClient);
  client.resume();
}
