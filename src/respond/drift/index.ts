/** Drift from the image: runtime (DriftDetector over sensor events) and one-shot (engine diff vs image). */
export { DriftDetector, type DriftDetectorOptions, type WatchedContainer } from './detector.js';
export { checkContainerDrift, type DriftCheckOptions, type DriftCheckResult } from './oneshot.js';
export { ImageIndexCache, loadImageIndex, type ImageFileIndex, type ImageFile } from './image-index.js';
export { DRIFT_EXEC_RULE, DRIFT_LIBRARY_RULE, DRIFT_TAGS, driftAlert, driftFinding, driftRule, type DriftKind, type DriftReason, type DriftVerdict } from './verdict.js';
export { withLibraryOpens } from './open-bounds.js';
