/**
 * Checking a peer's X.509-SVID after the TLS handshake verified its chain (SPIFFE X509-SVID
 * 5.2, leaf validation): a leaf (cA false, no keyCertSign/cRLSign), exactly one URI SAN,
 * a `spiffe://` ID with a path. Then the caller compares the ID with the one it expects.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { parseSpiffeId } from './spiffe.js';

export class SvidError extends Error {}

/** The SPIFFE ID of a leaf SVID; throws SvidError when the certificate is not one. */
export function spiffeIdOfCertificate(cert: X509Certificate): string {
  if (cert.ca) throw new SvidError('the certificate is a CA, not a leaf SVID');
  // Node exposes the extended key usages only: read the key usage bits with @peculiar/x509.
  const ku = new x509.X509Certificate(cert.raw).getExtension(x509.KeyUsagesExtension);
  if (!ku) throw new SvidError('an SVID must carry the key usage extension');
  if (ku.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) throw new SvidError('a leaf SVID may not sign certificates or CRLs');
  if (!(ku.usages & x509.KeyUsageFlags.digitalSignature)) throw new SvidError('a leaf SVID must allow digitalSignature');
  // Node renders the SANs as "URI:…, DNS:…"; URIs with commas are quoted, which a SPIFFE ID never needs.
  const uris = (cert.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  if (uris.length !== 1) throw new SvidError(`an SVID has exactly one URI SAN, this certificate has ${uris.length}`);
  const id = uris[0]!;
  const parsed = parseSpiffeId(id);
  if (!parsed) throw new SvidError(`"${id}" is not a SPIFFE ID`);
  if (!parsed.path) throw new SvidError(`${id} has no path: not a workload's ID`);
  return id;
}

/** The SPIFFE ID of the authenticated peer of a TLS socket (undefined when it sent no certificate). */
export function peerSpiffeId(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerX509Certificate();
  return cert ? spiffeIdOfCertificate(cert) : undefined;
}
