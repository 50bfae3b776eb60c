/**
 * The seam between the reconciler and Git. The reconciler only needs "give me the files of this
 * revision"; tests of the reconciler can supply a fake that returns a prepared directory.
 */

/** Credentials from a GitApp's credentialsSecret. Never logged, never part of a path or message. */
export interface GitCredentials {
  username?: string;
  password?: string;
  /**
   * An access token, sent as the basic-auth password (what GitHub, GitLab and Gitea accept over
   * HTTPS). The username defaults to "x-access-token"; set `username` where a host needs a specific
   * one (GitLab OAuth tokens: "oauth2", Bitbucket: "x-token-auth").
   */
  token?: string;
  /** OpenSSH private key for ssh:// and scp-like URLs (Secret key `sshPrivateKey`, or Flux's `identity`). */
  sshPrivateKey?: string;
  /** known_hosts lines for the SSH host; required for SSH (host keys are checked, never trusted on first use). */
  knownHosts?: string;
  /** PEM CA bundle trusted for HTTPS in addition to the system's (Secret key `ca.crt`). */
  caCert?: string;
}

export interface SourceRequest {
  /** http(s), ssh:// or scp-like URL of the repository. Userinfo in the URL is used as credentials but never stored. */
  repoURL: string;
  /** A branch, a tag, `refs/...`, `HEAD`, a commit SHA (full or short) or a semver tag range (`v1.2.x`). */
  revision: string;
  credentials?: GitCredentials;
  /** HTTPS without certificate checks (spec.source.insecureSkipTLSVerify); warned about on every fetch. */
  insecureSkipTLSVerify?: boolean;
}

export interface Checkout {
  /** Full commit SHA the worktree holds. */
  commit: string;
  /** Worktree on disk; shared between callers, so treat it as read-only. */
  dir: string;
  /** Full ref the revision resolved to (`refs/heads/main`, `refs/tags/v1`), or the SHA itself. */
  ref: string;
}

/** What the remote says a revision points at, learned without fetching objects. */
export interface RemoteHead {
  ref: string;
  commit: string;
}

export interface GitSource {
  resolve(req: SourceRequest): Promise<Checkout>;
}
