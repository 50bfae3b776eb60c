/**
 * Repository credentials from a GitApp's credentialsSecret: username/password or token for HTTPS,
 * sshPrivateKey (Flux: identity) and known_hosts (knownHosts) for SSH, ca.crt for a private CA.
 */
import type { ClusterClient } from "../cluster/client.js";
import { terminal } from "../errors.js";
import type { GitCredentials } from "../source/types.js";

/** Far beyond any key, token or CA bundle: a larger value is a mistake, not a credential. */
const MAX_VALUE_BYTES = 256 * 1024;

function text(data: Record<string, string>, secret: string, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = data[key];
    if (!value) continue;
    if (value.length > (MAX_VALUE_BYTES * 4) / 3 + 4) {
      throw terminal(
        "CredentialsInvalid",
        `credentials Secret ${secret} key "${key}" is larger than 256 KiB`,
      );
    }
    return Buffer.from(value, "base64").toString("utf8").trim() || undefined;
  }
  return undefined;
}

export async function readCredentials(
  client: ClusterClient,
  namespace: string,
  name: string,
): Promise<GitCredentials> {
  const secret = await client.get({ apiVersion: "v1", kind: "Secret", namespace, name });
  if (!secret) throw terminal("CredentialsNotFound", `credentials Secret ${namespace}/${name} not found`);
  const data = (secret.data ?? {}) as Record<string, string>;
  const id = `${namespace}/${name}`;
  const creds: GitCredentials = {
    username: text(data, id, "username"),
    password: text(data, id, "password"),
    token: text(data, id, "token"),
    sshPrivateKey: text(data, id, "sshPrivateKey", "identity"),
    knownHosts: text(data, id, "known_hosts", "knownHosts"),
    caCert: text(data, id, "ca.crt"),
  };
  for (const key of Object.keys(creds) as (keyof GitCredentials)[])
    if (creds[key] === undefined) delete creds[key];
  if (!creds.password && !creds.token && !creds.sshPrivateKey && !creds.caCert) {
    throw terminal(
      "CredentialsInvalid",
      `credentials Secret ${id} has none of "password", "token", "sshPrivateKey" (or "identity") and "ca.crt"`,
    );
  }
  return creds;
}
