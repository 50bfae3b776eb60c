/** Pure field-level comparison of Git-declared objects with live objects or admission requests. */
export { diffDeclared, LAST_APPLIED_ANNOTATION, type DeclaredChange } from "./declared.js";
export { managedMarkerChanges, removedManagedMarkers, MARKER_POINTERS } from "./markers.js";
export { ignoredPointers, ruleApplies } from "./ignore.js";
export { formatPath, parsePointer, toPointer, escapePointerToken, type PathSegment } from "./path.js";
export { parseQuantity, quantitiesEqual, isQuantityPath } from "./quantity.js";
