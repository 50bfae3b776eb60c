import { pinnedTools } from "./src/testenv/tools.ts";
import { render } from "./src/render/render.ts";
const tools = await pinnedTools();
for (const path of ["kustomize/overlays/prod", "helm/guestbook"]) {
  try {
    const r = await render({ repoDir: "/tmp/gg/repo", path, namespace: "guestbook" }, { tools });
    console.log(r);
  } catch (e) { console.log(path, e.reason, e.message); }
}
