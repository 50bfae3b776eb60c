/** gitgate's own label and annotations on an object: removing or rewriting them is a violation. */
import { APP_LABEL, MANAGED_ANNOTATIONS } from "../manifest/labels.js";
import type { KubeObject } from "../manifest/object.js";
import type { DeclaredChange } from "./declared.js";
import { formatPath, toPointer } from "./path.js";

type MarkerPlace = "labels" | "annotations";

const MARKERS: ReadonlyArray<[MarkerPlace, string]> = [
  ["labels", APP_LABEL],
  ...MANAGED_ANNOTATIONS.map((name): [MarkerPlace, string] => ["annotations", name]),
];

/** Ignore pointers for the markers, so diffDeclared leaves them to managedMarkerChanges. */
export const MARKER_POINTERS: readonly string[] = MARKERS.map(([place, name]) =>
  toPointer(["metadata", place, name]),
);

/**
 * Markers that Git's object carries and the request drops or rewrites. With `previous` (the live
 * object of an UPDATE), a marker the request leaves as it was is not the request's doing: the live
 * commit annotation legitimately lags the index between render and apply.
 */
export function managedMarkerChanges(
  desired: KubeObject,
  requested: KubeObject | undefined,
  previous?: KubeObject,
): DeclaredChange[] {
  const changes: DeclaredChange[] = [];
  for (const [place, name] of MARKERS) {
    const gitValue = desired.metadata[place]?.[name];
    if (gitValue === undefined) continue;
    const requestedValue = requested?.metadata?.[place]?.[name];
    if (requestedValue === gitValue) continue;
    if (previous && requestedValue === previous.metadata?.[place]?.[name]) continue;
    const path = ["metadata", place, name];
    changes.push({ path: formatPath(path), pointer: toPointer(path), gitValue, liveValue: requestedValue });
  }
  return changes;
}

/** Paths (`metadata.labels[gitgate.io/app]`) of the markers a request removes or changes. */
export function removedManagedMarkers(
  desired: KubeObject,
  requested: KubeObject | undefined,
  previous?: KubeObject,
): string[] {
  return managedMarkerChanges(desired, requested, previous).map((c) => c.path);
}
