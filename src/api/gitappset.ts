/**
 * The GitAppSet custom resource (gitgate.io/v1alpha1): generators and a GitApp template, as Argo CD's
 * ApplicationSet. The CRD keeps generators and template open (x-kubernetes-preserve-unknown-fields);
 * this schema is the real check, run by the controller, so that a bad set gets a condition saying
 * what is wrong instead of a bare API-server rejection. Pure.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { terminal, type GitgateError } from "../errors.js";
import type { HealthStatus } from "../health/types.js";
import type { KubeObject } from "../manifest/object.js";
import type { GitAppSpec } from "./gitapp.js";

export const GITAPPSET_KIND = "GitAppSet";
/** On every generated GitApp: the name of the set that generated it. */
export const APPSET_LABEL = "gitgate.io/appset";
/** The field manager of the generated GitApps. */
export const APPSET_FIELD_MANAGER = "gitgate-appset";
/** A parameter value, a list element's keys and values: small strings. */
export const MAX_PARAM_BYTES = 1024;
export const MAX_LIST_ELEMENTS = 1000;
/** The template as JSON; each generated GitApp is about that size too. */
export const MAX_TEMPLATE_BYTES = 64 * 1024;

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }>;
}

export interface DirectoryPattern {
  /** A glob over directory paths: `*` and `?` within one path segment. */
  path: string;
  exclude?: boolean;
}

export interface Generator {
  list?: { elements: Array<Record<string, string>> };
  /** Registered clusters whose Secret's labels match; no selector: all of them and the hub. */
  clusters?: { selector?: LabelSelector };
  gitDirectories?: {
    repoURL: string;
    revision?: string;
    credentialsSecret?: string;
    directories: DirectoryPattern[];
  };
  /** The cartesian product of exactly two generators (neither a matrix). */
  matrix?: { generators: Generator[] };
}

export interface GitAppTemplate {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: GitAppSpec;
}

export interface GitAppSetSpec {
  generators: Generator[];
  template: GitAppTemplate;
  syncPolicy?: { prune?: boolean };
  interval?: string;
}

export type SetConditionType = "ErrorOccurred" | "ParametersGenerated" | "ResourcesUpToDate";

export interface SetCondition {
  type: SetConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** A generated GitApp as the set last saw it. */
export interface GeneratedAppStatus {
  name: string;
  /** The destination cluster (`in-cluster`: the hub). */
  cluster: string;
  revision?: string;
  synced?: string;
  health?: HealthStatus;
}

export interface GitAppSetStatus {
  conditions?: SetCondition[];
  applications?: GeneratedAppStatus[];
  /** GitApps this set generated before and generates no more, left because prune is off. */
  orphaned?: string[];
  observedGeneration?: number;
}

export interface GitAppSet extends KubeObject {
  spec: GitAppSetSpec;
  status?: GitAppSetStatus;
}

const shortString = { type: "string", maxLength: MAX_PARAM_BYTES } as const;
const stringMap = { type: "object", maxProperties: 64, additionalProperties: shortString } as const;

const selectorSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    matchLabels: stringMap,
    matchExpressions: {
      type: "array",
      maxItems: 32,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["key", "operator"],
        properties: {
          key: { type: "string", minLength: 1, maxLength: 317 },
          operator: { enum: ["In", "NotIn", "Exists", "DoesNotExist"] },
          values: { type: "array", maxItems: 64, items: { type: "string", maxLength: 63 } },
        },
      },
    },
  },
} as const;

/** One generator: exactly one kind; `matrix` recurses through `#/definitions/generator`. */
const generatorSchema = {
  type: "object",
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: {
    list: {
      type: "object",
      additionalProperties: false,
      required: ["elements"],
      properties: {
        elements: {
          type: "array",
          maxItems: MAX_LIST_ELEMENTS,
          items: { type: "object", maxProperties: 64, additionalProperties: shortString },
        },
      },
    },
    clusters: { type: "object", additionalProperties: false, properties: { selector: selectorSchema } },
    gitDirectories: {
      type: "object",
      additionalProperties: false,
      required: ["repoURL", "directories"],
      properties: {
        repoURL: { type: "string", minLength: 1, maxLength: 2048 },
        revision: { type: "string", maxLength: 256 },
        credentialsSecret: { type: "string", maxLength: 253 },
        directories: {
          type: "array",
          minItems: 1,
          maxItems: 32,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["path"],
            properties: {
              path: { type: "string", minLength: 1, maxLength: 256 },
              exclude: { type: "boolean" },
            },
          },
        },
      },
    },
    matrix: {
      type: "object",
      additionalProperties: false,
      required: ["generators"],
      properties: { generators: { type: "array", items: { $ref: "#/definitions/generator" } } },
    },
  },
} as const;

const specSchema = {
  definitions: { generator: generatorSchema },
  type: "object",
  additionalProperties: false,
  required: ["generators", "template"],
  properties: {
    generators: { type: "array", minItems: 1, maxItems: 8, items: { $ref: "#/definitions/generator" } },
    template: {
      type: "object",
      additionalProperties: false,
      required: ["metadata", "spec"],
      properties: {
        metadata: {
          type: "object",
          additionalProperties: false,
          required: ["name"],
          properties: {
            name: { type: "string", minLength: 1, maxLength: 253 },
            namespace: { type: "string", maxLength: 253 },
            labels: stringMap,
            annotations: stringMap,
          },
        },
        spec: { type: "object", required: ["source"] },
      },
    },
    syncPolicy: { type: "object", additionalProperties: false, properties: { prune: { type: "boolean" } } },
    interval: { type: "string", maxLength: 32 },
  },
} as const;

/** Compiled on first use: ~0.7 s of start-up on a loaded machine, for a feature many never use. */
let compiled: ValidateFunction<GitAppSetSpec> | undefined;
function validator(): ValidateFunction<GitAppSetSpec> {
  compiled ??= new Ajv({ allErrors: true, strict: false }).compile<GitAppSetSpec>(specSchema);
  return compiled;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const problems = (errors ?? []).map((e) => `spec${e.instancePath} ${e.message ?? "is invalid"}`);
  return [...new Set(problems)].slice(0, 5).join("; ");
}

/** The set's spec checked (shape and caps); the error is the set's condition. */
export function checkSetSpec(
  spec: unknown,
): { ok: true; spec: GitAppSetSpec } | { ok: false; error: GitgateError } {
  if (spec !== null && typeof spec === "object" && JSON.stringify(spec).length > 4 * MAX_TEMPLATE_BYTES)
    return {
      ok: false,
      error: terminal("InvalidSpec", `spec is larger than ${4 * MAX_TEMPLATE_BYTES} bytes`),
    };
  const validate = validator();
  if (!validate(spec)) return { ok: false, error: terminal("InvalidSpec", describe(validate.errors)) };
  if (JSON.stringify(spec.template).length > MAX_TEMPLATE_BYTES)
    return {
      ok: false,
      error: terminal("InvalidSpec", `spec.template is larger than ${MAX_TEMPLATE_BYTES} bytes`),
    };
  return { ok: true, spec };
}
