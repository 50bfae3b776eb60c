/** Structured logging (pino). Every log line passes through credential redaction. */
import { pino, type Logger as PinoLogger } from "pino";
import { redactText } from "../manifest/redact.js";

export type Logger = PinoLogger;
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";

export function createLogger(
  level: LogLevel = "info",
  destination: NodeJS.WritableStream = process.stderr,
): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ["*.password", "*.token", "*.authorization", "*.headers.authorization"],
        censor: "<redacted>",
      },
      hooks: {
        // Redact message strings too: errors from HTTP clients may echo URLs with userinfo.
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === "string" ? redactText(a) : a)) as Parameters<typeof method>,
          );
        },
      },
    },
    destination as pino.DestinationStream,
  );
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = pino({ level: "silent" });
