// A node:test reporter that writes one JSON line per skipped test ({file, name, reason}) to its
// destination. run-tests.mjs lists them loudly after the run, and fails the run under CI: a test
// that cannot run in CI must say so by failing, not pass by skipping.
export default async function* skipReporter(source) {
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const { skip, file, name } = event.data;
    if (skip === undefined || skip === false) continue;
    yield `${JSON.stringify({ file, name, reason: typeof skip === "string" ? skip : "" })}\n`;
  }
}
