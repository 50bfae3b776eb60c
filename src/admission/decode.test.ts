import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { managedFieldSpans, parseReviewJson } from "./decode.js";

const managed = [
  {
    manager: "kubectl-edit",
    operation: "Update",
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:spec": { "f:template": { "f:spec": { 'k:{"name":"web"}': { ".": {}, "f:image": {} } } } },
    },
  },
];

function review(object: Record<string, unknown>, oldObject?: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid: "u1", operation: "UPDATE", object, ...(oldObject ? { oldObject } : {}) },
  });
}

function deployment(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", managedFields: managed, ...extra },
    spec: { replicas: 2 },
  };
}

/** JSON.parse of the text with the managedFields of object and oldObject dropped. */
function expected(text: string): unknown {
  const body = JSON.parse(text) as {
    request: Record<string, { metadata?: Record<string, unknown> } | undefined>;
  };
  for (const field of ["object", "oldObject"]) delete body.request[field]?.metadata?.managedFields;
  return body;
}

/** The decoder's result as JSON sees it (an undefined field and a missing one are the same there). */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe("parseReviewJson", () => {
  const cases: Array<{ name: string; text: string; stripped: boolean }> = [
    { name: "object and oldObject", text: review(deployment(), deployment()), stripped: true },
    { name: "object only (CREATE)", text: review(deployment()), stripped: true },
    {
      name: "no managedFields",
      text: review({ kind: "ConfigMap", metadata: { name: "c" } }),
      stripped: false,
    },
    {
      name: "strings with brackets, quotes and backslashes inside",
      text: review(
        deployment({
          managedFields: [{ manager: 'a]}"\\', fieldsV1: { 'k:{"x":"]"}': {}, "f:\\\\": { "[": "}" } } }],
        }),
      ),
      stripped: true,
    },
    {
      name: "a custom resource's own managedFields field is kept",
      text: review({
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "w", managedFields: managed },
        spec: { managedFields: [1, 2, 3] },
      }),
      stripped: false,
    },
    {
      name: "a key that ends in the needle after an escaped quote is kept",
      text: review({ kind: "Widget", metadata: { name: "w" }, spec: { 'x"managedFields': [1] } }),
      stripped: false,
    },
    {
      name: "a 0 already in metadata.managedFields cannot pass for a skipped span elsewhere",
      text: review({
        kind: "Widget",
        metadata: { name: "w", managedFields: 0 },
        spec: { managedFields: [1, 2] },
      }).replace('"managedFields":0', '"managedFields": 0'),
      stripped: false,
    },
    {
      name: "nor a value under an escaped spelling of the key",
      text: review({ kind: "Widget", metadata: { name: "w" }, spec: { managedFields: [1, 2] } }).replace(
        '"metadata":{',
        '"metadata":{"managed\\u0046ields":"x",',
      ),
      stripped: false,
    },
    {
      name: "indented JSON is parsed whole",
      text: JSON.stringify(JSON.parse(review(deployment())), null, 2),
      stripped: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = parseReviewJson(c.text);
      assert.deepEqual(asJson(result), c.stripped ? expected(c.text) : JSON.parse(c.text));
      assert.equal(managedFieldSpans(c.text).length > 0 && c.stripped, c.stripped);
    });
  }

  const malformed: Array<{ name: string; text: string }> = [
    {
      name: "unterminated managedFields",
      text: '{"request":{"object":{"metadata":{"managedFields":[{"a":"b"',
    },
    {
      name: "unterminated string inside",
      text: '{"request":{"object":{"metadata":{"managedFields":["a]}}}}',
    },
    { name: "brackets paired wrongly", text: '{"request":{"object":{"metadata":{"managedFields":[}}}}}' },
    { name: "broken JSON outside the arrays", text: review(deployment()).replace('"spec":', '"spec"') },
    { name: "trailing garbage", text: `${review(deployment())}x` },
  ];
  for (const c of malformed) {
    it(`throws as JSON.parse does: ${c.name}`, () => {
      assert.throws(() => JSON.parse(c.text), SyntaxError);
      assert.throws(() => parseReviewJson(c.text), SyntaxError);
    });
  }

  it("finds at most what it can delimit", () => {
    const text = '{"managedFields":[1,[2]],"x":{"managedFields":[]}}';
    const spans = managedFieldSpans(text).map(([start, end]) => text.slice(start, end));
    assert.deepEqual(spans, ["[1,[2]]", "[]"]);
    assert.deepEqual(managedFieldSpans('{"managedFields":[1'), []);
    assert.deepEqual(managedFieldSpans('{ "managedFields":[1]}'), []);
  });
});
