/**
 * Kubernetes resource quantities (`500m`, `0.5`, `1Gi`, `1024Mi`, `1e3`) as exact rationals, so that
 * Git's `cpu: 0.5` equals the API server's canonical `500m`. Pure; bigint arithmetic, no rounding.
 */

interface Rational {
  num: bigint;
  den: bigint;
}

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

// sign, digits, optional fraction, then a suffix (binary, decimal SI, or a decimal exponent).
const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]|)$/;

/** Bounds keep bigint work small on hostile input (quantities are at most ~20 significant digits). */
const MAX_LENGTH = 64;
const MAX_EXPONENT = 100;

export function parseQuantity(value: unknown): Rational | undefined {
  const text = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : value;
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_LENGTH) return undefined;
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const [, sign = "", whole = "", fraction = "", suffix = ""] = match;
  if (whole === "" && fraction === "") return undefined;
  let num = BigInt(`${whole}${fraction}` || "0");
  let den = 10n ** BigInt(fraction.length);
  if (sign === "-") num = -num;
  if (suffix in BINARY) {
    num *= 2n ** BigInt(BINARY[suffix] as number);
  } else {
    const exponent = suffix in DECIMAL ? (DECIMAL[suffix] as number) : Number(suffix.slice(1));
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_EXPONENT) return undefined;
    if (exponent >= 0) num *= 10n ** BigInt(exponent);
    else den *= 10n ** BigInt(-exponent);
  }
  return { num, den };
}

/** Semantic equality of two quantities; false when either does not parse. */
export function quantitiesEqual(a: unknown, b: unknown): boolean {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  return x !== undefined && y !== undefined && x.num * y.den === y.num * x.den;
}

/**
 * Whether a field path holds quantities: container resources, PVC storage requests, emptyDir sizeLimit,
 * ResourceQuota `spec.hard`, LimitRange limits and PersistentVolume capacity. `fields` are the string
 * segments of the path (list positions removed).
 */
export function isQuantityPath(kind: string, fields: readonly string[]): boolean {
  const n = fields.length;
  const parent = fields[n - 2];
  const grandparent = fields[n - 3];
  if (grandparent === "resources" && (parent === "requests" || parent === "limits")) return true;
  if (fields[n - 1] === "sizeLimit") return true;
  if (kind === "ResourceQuota" && parent === "hard") return true;
  if (kind === "PersistentVolume" && parent === "capacity") return true;
  if (kind === "LimitRange" && grandparent === "limits") {
    return ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"].includes(parent ?? "");
  }
  return false;
}
