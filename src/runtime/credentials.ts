/**
 * Repository credentials from a GitApp's credentialsSecret: `username`/`password` or `token`, and
 * `ca.crt` (a PEM CA bundle for a repository or registry with a private CA).
 */
import type { ClusterClient } from "../cluster/client.js";
import { terminal } from "../errors.js";
import type { GitCredentials } from "../source/types.js";

const text = (data: Record<string, string>, key: string): string | undefined =>
  data[key] ? Buffer.from(data[key], "base64").toString("utf8").trim() : undefined;

export async function readCredentials(
  client: ClusterClient,
  namespace: string,
  name: string,
): Promise<GitCredentials> {
  const secret = await client.get({ apiVersion: "v1", kind: "Secret", namespace, name });
  if (!secret) throw terminal("CredentialsNotFound", `credentials Secret ${namespace}/${name} not found`);
  const data = (secret.data ?? {}) as Record<string, string>;
  const creds: GitCredentials = {
    username: text(data, "username"),
    password: text(data, "password"),
    token: text(data, "token"),
    caCert: text(data, "ca.crt"),
  };
  if (!creds.password && !creds.token && !creds.caCert) {
    throw terminal(
      "CredentialsInvalid",
      `credentials Secret ${namespace}/${name} has none of the keys "password", "token", "ca.crt"`,
    );
  }
  return creds;
}
