/**
 * Subject and author of the commits gitgate synced, read from the local object store right after
 * the fetch (never an extra fetch), kept in memory and bounded, for the dashboard's revision column.
 */
import { TtlCache } from "../bounded/ttl-cache.js";

export interface CommitInfo {
  /** First line of the message, capped. */
  subject: string;
  /** The author's name (not the e-mail address), capped. */
  author: string;
  /** Author time, RFC 3339. */
  time: string;
}

const MAX_SUBJECT = 200;
const MAX_AUTHOR = 100;
const MAX_COMMITS = 512;

function capped(text: string, max: number): string {
  // Control characters would reach HTML attributes and logs; the views escape, this keeps it one line.
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** From isomorphic-git's readCommit: the first line of the message, the author's name and time. */
export function commitInfoOf(commit: {
  message: string;
  author: { name: string; timestamp: number };
}): CommitInfo {
  const firstLine = commit.message.slice(0, 4 * MAX_SUBJECT).split("\n", 1)[0] ?? "";
  const seconds = Number.isFinite(commit.author.timestamp) ? commit.author.timestamp : 0;
  return {
    subject: capped(firstLine, MAX_SUBJECT),
    author: capped(commit.author.name.slice(0, 4 * MAX_AUTHOR), MAX_AUTHOR),
    time: new Date(seconds * 1000).toISOString(),
  };
}

/** sha → CommitInfo, the least recently stored going first when full. */
export class CommitLog extends TtlCache<CommitInfo> {
  constructor(max = MAX_COMMITS) {
    super(max, Number.POSITIVE_INFINITY);
  }
}
