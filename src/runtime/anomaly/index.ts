/** Anomaly scoring beyond allowlists (issue 19 item 2). */
export { AnomalyDetector, type DetectorOptions, type DetectorStats } from './detector.js';
export { consensusScore, scoreFeature, type FeatureScore } from './model.js';
export { ANOMALY_RULES, ANOMALY_SOURCE, ANOMALY_TAGS, describeFeature, ruleFor } from './rules.js';
