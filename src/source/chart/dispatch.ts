/** One fetcher for the reconciler: a request naming a chart goes to the chart source, the rest to Git. */
import { terminal } from "../../errors.js";
import type { Checkout, GitCredentials, GitSource } from "../types.js";
import type { ChartCheckout, ChartRequest } from "./types.js";

export interface FetchRequest {
  repoURL: string;
  revision: string;
  chart?: string;
  credentials?: GitCredentials;
}

export interface CombinedSource {
  resolve(req: FetchRequest): Promise<Checkout | ChartCheckout>;
  /** A push to a Git repository: its ref lookups are asked afresh (ref-lookups.ts). */
  repoPushed(repoURL: string): void;
}

export function combinedSource(
  git: GitSource & { repoPushed?(repoURL: string): void },
  charts: { resolve(req: ChartRequest): Promise<ChartCheckout> },
): CombinedSource {
  return {
    repoPushed: (repoURL) => git.repoPushed?.(repoURL),
    resolve: (req) => {
      const { chart, ...rest } = req;
      if (chart) return charts.resolve({ ...rest, chart });
      if (/^oci:\/\//i.test(req.repoURL))
        return Promise.reject(
          terminal("InvalidRepoURL", "an oci:// repoURL holds Helm charts: set spec.source.chart"),
        );
      return git.resolve(rest);
    },
  };
}
