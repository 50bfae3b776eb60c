/**
 * Reading the cache's object store: with isomorphic-git (when it fetched the store) or with the
 * `git` binary (when git did: SSH, and HTTP(S) with the git fetcher; git-store.ts). The same
 * answers either way; the reconciler's GitSource picks one per repository.
 */
import * as fs from "node:fs";
import git from "isomorphic-git";
import { terminal } from "../errors.js";
import { commitInfoOf, type CommitInfo } from "./commit-info.js";
import { gitCommitInfo, gitExpandOid, gitObjectType, gitPeelToCommit, gitWriteTree } from "./git-store.js";
import { isomorphicWriteTree, objectType, peelToCommit, type TreeWriter } from "./worktree.js";

export interface ObjectStore {
  /** The object type of `oid`, or undefined when it is not in the store. */
  type(gitdir: string, oid: string): Promise<string | undefined>;
  /** Follows annotated tags down to the commit; anything else than a commit is an error. */
  peelToCommit(gitdir: string, oid: string, what: string): Promise<string>;
  /** The one object a short SHA names (RevisionAmbiguous when several); undefined when none. */
  expand(gitdir: string, short: string, repo: string): Promise<string | undefined>;
  commitInfo(gitdir: string, commit: string): Promise<CommitInfo>;
  writeTree: TreeWriter;
}

function ambiguous(short: string, repo: string): Error {
  return terminal(
    "RevisionAmbiguous",
    `short commit SHA ${short} names more than one object in ${repo}; give more digits`,
  );
}

export const isomorphicStore: ObjectStore = {
  type: (gitdir, oid) => objectType(gitdir, oid, {}),
  peelToCommit: (gitdir, oid, what) => peelToCommit(gitdir, oid, {}, what),
  async expand(gitdir, short, repo) {
    try {
      return await git.expandOid({ fs, gitdir, oid: short });
    } catch (err) {
      if ((err as { code?: string }).code === "AmbiguousError") throw ambiguous(short, repo);
      return undefined;
    }
  },
  async commitInfo(gitdir, commit) {
    const { commit: read } = await git.readCommit({ fs, gitdir, oid: commit });
    return commitInfoOf(read);
  },
  writeTree: isomorphicWriteTree,
};

export const gitStore: ObjectStore = {
  type: gitObjectType,
  peelToCommit: gitPeelToCommit,
  expand: gitExpandOid,
  commitInfo: gitCommitInfo,
  writeTree: gitWriteTree,
};
