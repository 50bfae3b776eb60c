/**
 * Channels name their endpoint either inline (`url`) or from a Secret (`urlFrom`), since Slack and Teams
 * webhook URLs are credentials. The Kubernetes read is the caller's: it passes a reader function.
 */
import { terminal } from "../errors.js";
import type { ChannelConfig } from "./channel.js";

export interface SecretKeyRef {
  secretName: string;
  key: string;
  /** Defaults to gitgate's own namespace, decided by the reader. */
  namespace?: string;
}

/** A channel as written in the config file. */
export interface ChannelSpec extends Omit<ChannelConfig, "url" | "secret"> {
  url?: string;
  urlFrom?: SecretKeyRef;
  secret?: string;
  /** HMAC key for webhook channels, from a Secret. */
  secretFrom?: SecretKeyRef;
}

export type SecretReader = (ref: SecretKeyRef) => Promise<string>;

function describeRef(ref: SecretKeyRef): string {
  return `${ref.namespace ? `${ref.namespace}/` : ""}${ref.secretName}[${ref.key}]`;
}

async function readRef(
  channel: string,
  what: string,
  ref: SecretKeyRef,
  read: SecretReader,
): Promise<string> {
  let value: string;
  try {
    value = await read(ref);
  } catch (err) {
    // The cause comes from the reader (an API error), not from the secret value.
    throw new Error(`alert channel ${channel}: cannot read ${what} from Secret ${describeRef(ref)}`, {
      cause: err,
    });
  }
  const trimmed = value.trim(); // Secrets made with `echo` end in a newline
  if (trimmed === "")
    throw terminal("AlertChannelInvalid", `alert channel ${channel}: Secret ${describeRef(ref)} is empty`);
  return trimmed;
}

/** The channel's URL: exactly one of `url` and `urlFrom` must be given. Errors never contain the URL. */
export async function resolveChannelURL(spec: ChannelSpec, read: SecretReader): Promise<string> {
  if (spec.url !== undefined && spec.urlFrom !== undefined) {
    throw terminal("AlertChannelInvalid", `alert channel ${spec.name}: give url or urlFrom, not both`);
  }
  let url: string;
  if (spec.url !== undefined) url = spec.url.trim();
  else if (spec.urlFrom !== undefined) url = await readRef(spec.name, "url", spec.urlFrom, read);
  else throw terminal("AlertChannelInvalid", `alert channel ${spec.name}: url or urlFrom is required`);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
    throw terminal("AlertChannelInvalid", `alert channel ${spec.name}: url is not an http(s) URL`);
  }
  return url;
}

/** Resolves every spec into the ChannelConfig the dispatcher takes. */
export async function resolveChannels(specs: ChannelSpec[], read: SecretReader): Promise<ChannelConfig[]> {
  return Promise.all(
    specs.map(async (spec): Promise<ChannelConfig> => {
      const { urlFrom: _u, secretFrom, url: _url, secret: inlineSecret, ...rest } = spec;
      const url = await resolveChannelURL(spec, read);
      const secret = secretFrom ? await readRef(spec.name, "secret", secretFrom, read) : inlineSecret;
      return { ...rest, url, ...(secret ? { secret } : {}) };
    }),
  );
}
