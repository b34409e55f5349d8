/** Image names as written in manifests: the one splitter lives with image references. */
export { splitImageName as parseImageRef, type ImageNameParts as ImageRefParts } from '../image/reference.js';
