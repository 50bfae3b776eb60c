/**
 * Talking to the remote: credentials as headers, a deadline that aborts the HTTP requests of an
 * operation, and ref listing to learn what a revision points at without fetching any objects.
 */
import git, { type HttpClient, type ServerRef } from "isomorphic-git";
import http from "isomorphic-git/http/node";
import type { GuardedAgents } from "./hosts.js";
import { checkUploadPackResponse, type PackCheck } from "./pack-guard.js";
import type { GitCredentials, RemoteHead } from "./types.js";

export const FULL_SHA = /^[0-9a-f]{40}$/;

/**
 * Preemptive basic auth, like `git` after its first 401: it saves a round trip, and isomorphic-git's
 * onAuth retry loop is not needed because a rejected credential is final (AuthenticationFailed).
 */
export function authHeaders(credentials: GitCredentials | undefined): Record<string, string> {
  if (!credentials) return {};
  const { username, password, token } = credentials;
  const user = token ? (username ?? "x-access-token") : (username ?? "");
  const secret = token ?? password ?? "";
  if (user === "" && secret === "") return {};
  return { Authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}` };
}

/** A cap on the response bytes of one operation, and the error to fail it with. */
export interface ByteCap {
  maxBytes: number;
  onExceeded: () => Error;
  /** Largest object (or delta result) a fetched pack may hold; checked before isomorphic-git inflates it. */
  maxObjectBytes?: number;
  /** The error for a pack that breaks maxObjectBytes or cannot be read. */
  onBadPack?: (check: Exclude<PackCheck, { ok: true }>) => Error;
}

/**
 * Runs `op` with an HTTP client whose requests are aborted after `ms`, or once their responses
 * together exceed `cap` (isomorphic-git holds a whole packfile in memory). On timeout it still
 * waits (a bounded while) for `op` to settle, so the caller's repo lock is not released while
 * isomorphic-git may be writing a packfile into the cache.
 */
export async function withDeadline<T>(
  ms: number,
  onTimeout: () => Error,
  op: (client: HttpClient) => Promise<T>,
  cap?: ByteCap,
  /** Connections through these (hosts checked, see hosts.ts); node's global agents when absent. */
  agents?: GuardedAgents,
): Promise<T> {
  const controller = new AbortController();
  let received = 0;
  let exceeded: Error | undefined;
  async function* counted(
    body: AsyncIterableIterator<Uint8Array>,
    limit: ByteCap,
  ): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      received += chunk.byteLength;
      if (received > limit.maxBytes) {
        const error = (exceeded ??= limit.onExceeded());
        controller.abort();
        throw error;
      }
      yield chunk;
    }
  }
  async function* checked(
    body: AsyncIterableIterator<Uint8Array>,
    limit: ByteCap,
  ): AsyncGenerator<Uint8Array> {
    // The whole response first (isomorphic-git collects it whole too), then its pack is checked.
    const chunks: Uint8Array[] = [];
    for await (const chunk of counted(body, limit)) chunks.push(chunk);
    const whole = Buffer.concat(chunks);
    const check = checkUploadPackResponse(whole, limit.maxObjectBytes ?? Number.MAX_SAFE_INTEGER);
    if (!check.ok && limit.onBadPack) {
      const error = (exceeded ??= limit.onBadPack(check));
      controller.abort();
      throw error;
    }
    yield whole;
  }
  const client: HttpClient = {
    request: async (req) => {
      const agent = agents && (new URL(req.url).protocol === "http:" ? agents.http : agents.https);
      const res = await http.request({ ...req, signal: controller.signal, ...(agent ? { agent } : {}) });
      if (!cap || !res.body) return res;
      const fetchingPack = req.method === "POST" && /\/git-upload-pack$/.test(new URL(req.url).pathname);
      const body =
        fetchingPack && cap.maxObjectBytes !== undefined ? checked(res.body, cap) : counted(res.body, cap);
      return { ...res, body };
    },
  };
  const work = op(client).catch((err: unknown) => {
    throw exceeded ?? err; // whatever isomorphic-git made of it, the cause is the cap
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    const first = await Promise.race([work.then(() => "done" as const), deadline]);
    if (first === "done") return await work;
    controller.abort();
    await settledWithin(work, 5_000);
    throw onTimeout();
  } finally {
    clearTimeout(timer);
  }
}

async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work.then(noop, noop), grace]);
  clearTimeout(timer);
}

function noop(): void {}

/** Refs to look for, in order. Branches win over same-named tags: `refs/tags/x` disambiguates. */
export function candidateRefs(revision: string): string[] {
  if (revision === "" || revision === "HEAD") return ["HEAD"];
  if (revision.startsWith("refs/")) return [revision];
  return [`refs/heads/${revision}`, `refs/tags/${revision}`];
}

/** The commit a listed ref points at: annotated tags are peeled, HEAD follows its symref. */
export function headFromRefs(refs: ServerRef[], wanted: string): RemoteHead | undefined {
  const found = refs.find((r) => r.ref === wanted);
  if (!found) return undefined;
  const ref = wanted === "HEAD" && found.target ? found.target : wanted;
  return { ref, commit: found.peeled ?? found.oid };
}

/**
 * Looks each candidate ref up with a protocol-v2 `ls-refs` prefix (one small request per candidate,
 * not the whole advertisement, which on big hosts includes thousands of pull-request refs).
 */
export async function lookupRevision(
  client: HttpClient,
  url: string,
  revision: string,
  credentials: GitCredentials | undefined,
): Promise<RemoteHead | undefined> {
  for (const wanted of candidateRefs(revision)) {
    const refs = await git.listServerRefs({
      http: client,
      url,
      headers: authHeaders(credentials), // fresh object: isomorphic-git mutates it
      prefix: wanted,
      symrefs: true,
      peelTags: true,
    });
    const head = headFromRefs(refs, wanted);
    if (head) return head;
  }
  return undefined;
}

/** All refs (for fetching by SHA, which needs some ref to anchor isomorphic-git's fetch). */
export async function listAllRefs(
  client: HttpClient,
  url: string,
  credentials: GitCredentials | undefined,
): Promise<ServerRef[]> {
  return git.listServerRefs({ http: client, url, headers: authHeaders(credentials), prefix: "refs/" });
}
