/** Service identities, their build provenance, SPIFFE IDs and the SVID CA. */
export * from './types.js';
export * from './provenance.js';
export * from './spiffe.js';
export * from './record.js';
export * from './image.js';
export * from './ca.js';
export * from './peer.js';
export * from './parse.js';
