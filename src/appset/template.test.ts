import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderTemplate } from "./template.js";

describe("template substitution", () => {
  const params = { "cluster.name": "dev", path: "apps/web", "path.basename": "web", env: "prod" };
  const cases: Array<[template: string, want: string | RegExp]> = [
    ["{{cluster.name}}-web", "dev-web"],
    ["{{ cluster.name }}", "dev"],
    ["overlays/{{cluster.name}}/{{env}}", "overlays/dev/prod"],
    ["no params", "no params"],
    ["{{path}}", "apps/web"],
    [
      "{{missing}}",
      /unknown param "missing" \(the generators give: cluster.name, env, path, path.basename\)/,
    ],
    ["{{cluster.name", /unterminated/],
    ["{{}}", /is not a param name/],
    ["{{ a + b }}", /is not a param name/],
    ["{{cluster.name | upper}}", /is not a param name/],
  ];
  for (const [template, want] of cases)
    it(JSON.stringify(template), () => {
      const got = renderTemplate({ value: template }, params);
      if (typeof want === "string") assert.deepEqual(got, { ok: true, value: { value: want } });
      else {
        assert.equal(got.ok, false);
        if (!got.ok) {
          assert.equal(got.error.reason, "TemplateError");
          assert.match(got.error.message, want);
        }
      }
    });

  it("substitutes string values at any depth, never keys, and keeps other values", () => {
    const got = renderTemplate(
      { "{{env}}": "{{env}}", list: ["{{cluster.name}}", 3, true], nested: { n: null } },
      params,
    );
    assert.deepEqual(got, {
      ok: true,
      value: { "{{env}}": "prod", list: ["dev", 3, true], nested: { n: null } },
    });
  });

  it("a value that looks like a param is not substituted again", () => {
    assert.deepEqual(renderTemplate({ v: "{{x}}" }, { x: "{{y}}" }), { ok: true, value: { v: "{{y}}" } });
  });
});
