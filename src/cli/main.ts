#!/usr/bin/env node
/** The `gitgate` command. Each subcommand lives in its own module; this file only wires them. */
import { Command, Option } from "commander";
import { runCommand } from "./cmd-run.js";
import { renderCommand } from "./cmd-render.js";
import { devCommand } from "./cmd-dev.js";
import { diffCommand } from "./cmd-diff.js";
import { checkCommand } from "./cmd-check.js";
import { statusCommand } from "./cmd-status.js";
import { healthCommand } from "./cmd-health.js";

const program = new Command();
program
  .name("gitgate")
  .description("Keep a Kubernetes cluster equal to Git: reconciler, admission gate and drift alerts.")
  .version("0.1.0")
  .showHelpAfterError();

program
  .command("run")
  .description("Run the reconciler and the admission webhooks against a cluster.")
  .option(
    "--kubeconfig <file>",
    "kubeconfig to use (default: in-cluster service account, else ~/.kube/config)",
  )
  .option("--config <file>", "gitgate config file (YAML)")
  .option(
    "--webhook-address <host:port>",
    "serve the webhooks here and register url-based configurations (out of cluster)",
  )
  .option("--identity <user>", "gitgate's own username, instead of asking the API server")
  .option("--no-webhook", "run the reconciler only")
  .option("--no-install-crds", "do not create the GitApp CRD when it is missing")
  .addOption(
    new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error"]),
  )
  .action(runCommand);

program
  .command("dev")
  .description(
    "Demo on an embedded default: local control plane, demo Git repo, chat sink in this terminal, and gitgate.",
  )
  .option(
    "--kubeconfig <file>",
    "use this cluster instead of a local control plane (its API server must reach 127.0.0.1)",
  )
  .option(
    "--with-node",
    "also start a real node (kubelet, containerd; root) so the tour's apps run, on local stand-in images",
  )
  .addOption(
    new Option("--log-level <level>", "gitgate's log level")
      .choices(["debug", "info", "warn", "error"])
      .default("warn"),
  )
  .action(devCommand);

program
  .command("render")
  .description(
    "Print what gitgate would apply for a directory (plain YAML, Kustomize or Helm), like `helm template`.",
  )
  .argument("<path>", "directory to render")
  .option(
    "--repo <dir>",
    "repository root the path must stay inside (default: the git top level, else the path)",
  )
  .option("-n, --namespace <ns>", "destination namespace", "default")
  .option("--release-name <name>", "Helm release name")
  .option("-f, --values <file...>", "Helm value files (relative to the path)")
  .addOption(new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml"))
  .action(renderCommand);

program
  .command("diff")
  .description(
    "Field-level diff between Git and the live cluster (Secrets redacted). Exit code 1 when they differ.",
  )
  .argument("<target>", "a directory to render, or a GitApp (`ns/name` or `name`)")
  .option("--kubeconfig <file>", "kubeconfig to use")
  .option("-n, --namespace <ns>", "default namespace for objects, and for a GitApp name", "default")
  .option("--release-name <name>", "Helm release name (a directory target)")
  .option("-f, --values <file...>", "Helm value files, relative to the directory (a directory target)")
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
  .action(diffCommand);

program
  .command("check")
  .description(
    "Would this change be admitted? Decides as the admission webhook would, against Git. Exit code 1 when denied.",
  )
  .argument("<manifest>", "YAML or JSON file with the objects as you would apply them")
  .option("--kubeconfig <file>", "kubeconfig to use")
  .option("--config <file>", "gitgate config file (exemptions, break-glass group, default mode)")
  .option("-n, --namespace <ns>", "namespace for objects that name none", "default")
  .option("--as <user>", "decide for this username (default: you)")
  .option("--as-group <group...>", "groups of --as")
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
  .action(checkCommand);

program
  .command("status")
  .description("GitApps with their revision, sync, drift and health state.")
  .option("--kubeconfig <file>", "kubeconfig to use")
  .option("-n, --namespace <ns>", "namespace", "default")
  .option("-A, --all-namespaces", "GitApps in every namespace")
  .option(
    "--fleet",
    "one row per GitApp, grouped by GitAppSet, with its destination cluster and that cluster's connection",
  )
  .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"))
  .action(statusCommand);

program
  .command("health")
  .description(
    "The health of each object in a file (saved with `kubectl get -o yaml`), as the sync judges it.",
  )
  .requiredOption("-f, --filename <file>", "YAML or JSON file of live objects (- for standard input)")
  .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"))
  .action(healthCommand);

program.parseAsync().catch((err: unknown) => {
  console.error(`gitgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
