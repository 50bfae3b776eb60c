// A node:test reporter that writes one JSON line per event run-tests.mjs needs, to its destination:
//   {what: "start"|"end", nesting, name}  as each test starts and ends, to name the tests still
//                                          running in a file killed for running past its limit;
//   {what: "skip", file, name, reason}    per skipped test: listed loudly after the run, and a
//                                          failure under CI (a test that cannot run in CI must say so
//                                          by failing, not pass by skipping);
//   {what: "fail", name, kind, reason}     per failed test other than one cancelled by its parent:
//                                          the run's summary repeats the first few, so the tail of
//                                          a long log says why a file failed (a hook's error too).
export default async function* recordReporter(source) {
  for await (const event of source) {
    const { type, data } = event;
    if (type === "test:dequeue") yield line({ what: "start", nesting: data.nesting, name: data.name });
    if (type !== "test:pass" && type !== "test:fail") continue;
    yield line({ what: "end", nesting: data.nesting, name: data.name });
    if (type === "test:fail") {
      const error = data.details?.error;
      if (error?.failureType !== "cancelledByParent")
        yield line({ what: "fail", name: data.name, kind: error?.failureType ?? "", reason: reason(error) });
    }
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

const REASON_CHARS = 600;

/** The error's own words: a hook failure wraps the hook's error as its cause. */
function reason(error) {
  const cause = error?.cause instanceof Error ? error.cause : error;
  const text = String(cause?.message ?? cause ?? "");
  return text.length > REASON_CHARS ? `${text.slice(0, REASON_CHARS)}…` : text;
}
