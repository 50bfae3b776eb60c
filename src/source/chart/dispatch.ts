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
}

export function combinedSource(
  git: GitSource,
  charts: { resolve(req: ChartRequest): Promise<ChartCheckout> },
): CombinedSource {
  return {
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
