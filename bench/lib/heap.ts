/**
 * What a structure keeps on the V8 heap: heapUsed after a full GC with the structure alive, minus
 * heapUsed after a full GC before it was built (needs `node --expose-gc`; NaN without it).
 */
import { getHeapStatistics } from "node:v8";

function collectedHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
}

/** Bytes `build()`'s result keeps alive (the result is held until measured, then released). */
export function retainedBytes<T>(build: () => T): { bytes: number; value: T } {
  const before = collectedHeap();
  const value = build();
  const after = collectedHeap();
  return { bytes: after - before, value };
}
