/** Image access: references, transports, layer walking and the squashed filesystem. */
export * from './reference.js';
export * from './types.js';
export * from './source.js';
export * from './files.js';
export * from './limits.js';
export * from './platform.js';
export { openImage, type OpenImageOptions } from './open.js';
export { walkImage, type ImageWalk, type LayerStats, type WalkOptions } from './walk.js';
export { SquashedFs } from './squash.js';
export { RegistryClient, type RegistryClientOptions, type RegistryRequest, type RegistryResponse, MANIFEST_ACCEPT } from './registry/client.js';
export { findCredentials, type Credentials } from './registry/credentials.js';
export { collectFiles } from './visitors.js';
export { inspectImage, listingRow, type InspectReport, type ListingRow } from './inspect.js';
export { parseOsRelease, OS_RELEASE_PATHS } from './os-release.js';
