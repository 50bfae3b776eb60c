// A node:test reporter that writes one JSON line per event run-tests.mjs needs, to its destination:
//   {what: "start"|"end", nesting, name}  as each test starts and ends, to name the tests still
//                                          running in a file killed for running past its limit;
//   {what: "skip", file, name, reason}    per skipped test: listed loudly after the run, and a
//                                          failure under CI (a test that cannot run in CI must say so
//                                          by failing, not pass by skipping).
export default async function* recordReporter(source) {
  for await (const event of source) {
    const { type, data } = event;
    if (type === "test:dequeue") yield line({ what: "start", nesting: data.nesting, name: data.name });
    if (type !== "test:pass" && type !== "test:fail") continue;
    yield line({ what: "end", nesting: data.nesting, name: data.name });
    if (data.skip !== undefined && data.skip !== false)
      yield line({
        what: "skip",
        file: data.file,
        name: data.name,
        reason: typeof data.skip === "string" ? data.skip : "",
      });
  }
}

const line = (record) => `${JSON.stringify(record)}\n`;
