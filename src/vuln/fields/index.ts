/** The image field set: every image field group, one line each. */
import { FieldRegistry } from '../../policy/fields.js';
import { componentFields } from './component.js';
import type { ImageContext } from './context.js';
import { hygieneFields } from './hygiene.js';
import { imageFields } from './image.js';
import { secretFields } from './secret.js';
import { signatureFields } from './signature.js';
import { vulnerabilityFields } from './vulnerability.js';

export function imageFieldRegistry(): FieldRegistry<ImageContext> {
  return new FieldRegistry<ImageContext>()
    .register(imageFields)
    .register(vulnerabilityFields)
    .register(componentFields)
    .register(secretFields)
    .register(hygieneFields)
    .register(signatureFields);
}
