/** The risk factors, in display order. A new factor is one file and one line here. */
import { vulnerabilitiesFactor } from './vulnerabilities.js';
import { privilegesFactor } from './privileges.js';
import { exposureFactor } from './exposure.js';
import { runtimeFactor } from './runtime.js';
import { imageFactor } from './image.js';
import type { RiskFactor } from './types.js';

export const RISK_FACTORS: readonly RiskFactor[] = [vulnerabilitiesFactor, privilegesFactor, exposureFactor, runtimeFactor, imageFactor];
