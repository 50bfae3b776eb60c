/** Runs kubectl as a given identity and returns what it printed (tests assert on the real CLI text). */
import { spawn } from "node:child_process";
import { readEnvironment } from "../config/load.js";

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function kubectl(
  bin: string,
  kubeconfig: string,
  args: string[],
  stdin?: string,
): Promise<KubectlResult> {
  const env = readEnvironment();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [`--kubeconfig=${kubeconfig}`, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        PATH: env.tools.searchPath ?? "",
        HOME: env.home ?? "/tmp",
        KUBECACHEDIR: "/tmp/gitgate-kubectl-cache",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    // "close", not "exit": the output streams may still hold kubectl's last words at exit.
    child.on("close", (code, signal) =>
      resolve({ code: code ?? 1, stdout, stderr: signal ? `${stderr}(killed by ${signal})` : stderr }),
    );
    child.stdin.end(stdin ?? "");
  });
}

/** Like kubectl() but throws with kubectl's own message on a non-zero exit. */
export async function runKubectl(
  bin: string,
  kubeconfig: string,
  args: string[],
  stdin?: string,
): Promise<string> {
  const result = await kubectl(bin, kubeconfig, args, stdin);
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}
