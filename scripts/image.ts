/**
 * `npm run image [-- --output FILE] [--tag NAME] [--root DIR]`: builds gitgate's image from the
 * Dockerfile with buildah (vfs storage) where nothing can be pulled (src/testenv/image.ts).
 * `--output FILE` also writes an OCI archive: `ctr -n k8s.io images import FILE`.
 * With Docker instead: `docker build -t gitgate:<version> .` (the Dockerfile's defaults).
 */
import { parseArgs } from "node:util";
import { buildImage } from "../src/testenv/image.js";

const { values } = parseArgs({
  options: { output: { type: "string" }, tag: { type: "string" }, root: { type: "string" } },
});
const image = await buildImage({
  output: values.output,
  tag: values.tag,
  storageRoot: values.root,
  log: (line) => process.stderr.write(`[image] ${line}\n`),
});
process.stdout.write(
  `${image.local} built in ${image.seconds.toFixed(0)} s${image.archive ? `; archive ${image.archive} (${image.reference})` : ""}\n`,
);
