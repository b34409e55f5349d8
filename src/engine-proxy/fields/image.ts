/**
 * Image fields: the image a request is about (container.create's Config.Image, the pull,
 * push and tag references, the name in image endpoints' paths) and the trust verdict.
 */
import { fact, type EngineFieldDef } from './fact.js';

const refFields = (prefix: string, what: string): EngineFieldDef[] => [
  fact(`${prefix}.ref`, 'string', `${what} reference as the client wrote it`),
  fact(`${prefix}.registry`, 'string', `registry of the ${what} (docker.io for short names; empty when the reference does not parse)`),
  fact(`${prefix}.repository`, 'string', `repository of the ${what} (library/busybox)`),
  fact(`${prefix}.tag`, 'string', `tag of the ${what}, when given`),
  fact(`${prefix}.digest`, 'string', `digest of the ${what}, when given`),
  fact(`${prefix}.pinned`, 'boolean', `the ${what} reference carries a digest`),
];

export const imageFields: EngineFieldDef[] = [
  ...refFields('image', 'image'),
  fact('image.signed', 'boolean', 'the trust policy allows the image (only known with --trust-policy; container.create and image.pull)'),
  fact('image.trust', 'string', 'the trust verifier\'s explanation'),
  fact('image.import', 'boolean', 'image.pull is an import (fromSrc) rather than a pull'),
  fact('image.source', 'string', 'fromSrc of an import'),
  ...refFields('source', 'tagged source image (image.tag)'),
];
