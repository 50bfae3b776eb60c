import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REDACTED, redactHead, redactText } from "./redact.js";

const R = REDACTED;
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

void describe("redactText", () => {
  const cases: Array<[string, string, string]> = [
    [
      "user and password in a URL",
      "cannot reach https://deploy:s3cr3t@git.example.com/a.git",
      `cannot reach https://${R}@git.example.com/a.git`,
    ],
    [
      "a token-only URL",
      "clone https://ghx0123456789abcdef@git.example.com/a.git",
      `clone https://${R}@git.example.com/a.git`,
    ],
    ["an unencoded @ in the password", "https://u:p@ss@host/x", `https://${R}@host/x`],
    ["a scheme with + and any case", "GIT+SSH://u:p@host/x", `GIT+SSH://${R}@host/x`],
    ["two URLs", "a https://u:p@h1/x b http://t@h2", `a https://${R}@h1/x b http://${R}@h2`],
    [
      "an @ in the path is not userinfo",
      "https://git.example.com/team/@scope/pkg",
      "https://git.example.com/team/@scope/pkg",
    ],
    ["an @ in the query is not userinfo", "https://h/p?mail=a@b", "https://h/p?mail=a@b"],
    ["no scheme before ://", "x_://u:p@h", "x_://u:p@h"],
    ["a URL without userinfo", "https://git.example.com/a.git", "https://git.example.com/a.git"],
    ["a GitHub token", "token ghp_abcdefghijklmnopqrstuvwx1234", `token ${R}`],
    ["a short gh_ string", "ghp_abc", "ghp_abc"],
    ["a GitLab token", "glpat-abcdefghij0123456789", R],
    ["a Slack token", "xoxb-1234-5678-abcdefgh", R],
    ["an AWS key id", "id AKIAABCDEFGHIJKLMNOP.", `id ${R}.`],
    ["a JWT", `Authorization ${JWT} rest`, `Authorization ${R} rest`],
    ["a JWT after -", `x-${JWT}`, `x-${R}`],
    ["a JWT after a dot", `a.${JWT}`, `a.${R}`],
    ["a JWT inside a word is not", `x_${JWT}`, `x_${JWT}`],
    ["a JWT-like text with a short segment", "eyJabcdefgh.abc.abcdefgh", "eyJabcdefgh.abc.abcdefgh"],
    ["two JWTs in a run", `${JWT}.${JWT}`, `${R}.${R}`],
    [
      "a private key block",
      "k: -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- end",
      `k: ${R} end`,
    ],
    ["a private key block without END, to the end", "a -----BEGIN PRIVATE KEY-----\nMIIE...", `a ${R}`],
    ["a public key is not", "-----BEGIN PUBLIC KEY-----\nMIIB", "-----BEGIN PUBLIC KEY-----\nMIIB"],
    ["password=", "password=hunter22 and more", `password=${R} and more`],
    ["password: with spaces", "Password :  hunter22", `Password :  ${R}`],
    ["api-key", "api-key=abc;x", `api-key=${R};x`],
    ["a two-letter value is kept", "token=ab", "token=ab"],
    ["a bearer token", "Authorization: Bearer abcdefgh12345678", `Authorization: Bearer ${R}`],
    ["basic auth", "basic dXNlcjpwYXNz", `basic ${R}`],
    ["a short bearer value is kept", "bearer abc", "bearer abc"],
    ["bearer followed by whitespace only", `bearer${" ".repeat(100)}`, `bearer${" ".repeat(100)}`],
    ["a value 64 blanks away is still found", `token:${" ".repeat(64)}abcd`, `token:${" ".repeat(64)}${R}`],
  ];
  for (const [name, input, want] of cases) void it(name, () => assert.equal(redactText(input), want));
});

void describe("redactHead", () => {
  const long = (tail: string): string => `${"word ".repeat(20_000)}${tail}`;
  const cases: Array<[string, string, number, (out: string) => boolean]> = [
    ["a short text is redacted whole", "x password=hunter22", 5, (o) => o === `x password=${R}`],
    [
      "a credential split by the cut is dropped",
      long("ghp_abcdefghijklmnopqrstuvwx1234"),
      100_000 - 64 * 1024 + 2,
      (o) => !o.includes("ghp_") && o.endsWith("word "),
    ],
    [
      "a URL's userinfo split by the cut is dropped",
      long("https://user:secret@host"),
      100_000 - 64 * 1024 + 16,
      (o) => !o.includes("secret") && !o.includes("https"),
    ],
    [
      "a private key cut before its END is redacted",
      `${"-----BEGIN PRIVATE KEY-----\n"}${"A".repeat(200_000)}`,
      10,
      (o) => o === R,
    ],
  ];
  for (const [name, input, max, ok] of cases) void it(name, () => assert.ok(ok(redactHead(input, max))));

  void it("reads only a window of a long text", () => {
    assert.ok(redactHead("a b ".repeat(1_000_000), 100).length < 100 + 64 * 1024 + 1);
  });
});

/**
 * Texts each former pattern took quadratic time on (issue 13: "bearer" and 48 k spaces blocked the
 * event loop for 8 s). Each is built at a given length.
 */
const HOSTILE: Record<string, (n: number) => string> = {
  "bearer + spaces": (n) => `bearer${" ".repeat(n)}`,
  "password: + spaces": (n) => `password:${" ".repeat(n)}`,
  "bearer repeated": (n) => "bearer ".repeat(n / 7),
  "password= repeated": (n) => "password= ".repeat(n / 10),
  "-eyJ repeated": (n) => "-eyJ".repeat(n / 4),
  "JWT segments without a third": (n) => "eyJabcdefgh.".repeat(n / 12),
  "scheme-like runs": (n) => "a.".repeat(n / 2),
  ":// repeated": (n) => "a://".repeat(n / 4),
  "userinfo without @": (n) => `https://${"u".repeat(n)}`,
  "BEGIN without END": (n) => "-----BEGIN PRIVATE KEY-----".repeat(n / 27),
  "Slack prefixes": (n) => "xoxb-".repeat(n / 5),
  "long word": (n) => `${"a".repeat(n)} eyJ`,
};

function bestMs(fn: () => void, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

void describe("redactText cost", () => {
  void it("grows linearly on the worst inputs: 1 MB costs at most 15x of 100 KB, measured here", () => {
    const small = Object.values(HOSTILE).map((make) => make(100_000));
    const large = Object.values(HOSTILE).map((make) => make(1_000_000));
    const all = (texts: string[]) => () => texts.forEach((t) => redactText(t));
    all(small)(); // compile the patterns before timing
    // A quadratic pattern gives ~100x every time; a busy machine can spoil one measurement, not three.
    const ratios: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const a = bestMs(all(small), 5);
      const b = bestMs(all(large), 3);
      ratios.push(b / a);
      console.log(
        `redactText: 100 KB ${a.toFixed(1)} ms, 1 MB ${b.toFixed(1)} ms, ratio ${(b / a).toFixed(1)}`,
      );
      if (b / a <= 15) break;
    }
    assert.ok(Math.min(...ratios) <= 15, `ratios ${ratios.map((r) => r.toFixed(1)).join(", ")}`);
  });

  // One 100 KB text alone takes well under a millisecond, where timer noise and a busy machine weigh
  // more than the pattern: compare one 1 MB text with ten 100 KB texts instead, the same work for a
  // linear pattern (ratio ~1) and a tenth of it for a quadratic one (ratio ~10).
  for (const [name, make] of Object.entries(HOSTILE)) {
    void it(`each hostile text alone stays linear (1 MB at most 4x ten 100 KB texts): ${name}`, () => {
      const small = make(100_000);
      const large = make(1_000_000);
      const tenSmall = (): void => {
        for (let i = 0; i < 10; i++) redactText(small);
      };
      tenSmall();
      const ratios: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const ratio = bestMs(() => redactText(large), 3) / Math.max(bestMs(tenSmall, 3), 0.05);
        ratios.push(ratio);
        if (ratio <= 4) break;
      }
      assert.ok(Math.min(...ratios) <= 4, `ratios ${ratios.map((r) => r.toFixed(1)).join(", ")}`);
    });
  }
});
