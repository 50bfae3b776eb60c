import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { Registry } from "prom-client";
import { silentLogger } from "../log/logger.js";
import { createApp, type AppDeps } from "./app.js";

const REPO = "https://git.example.com/acme/deploy.git";
const push = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: REPO } });
const signed = (secret: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

void describe("push receiver (POST /hooks/git)", () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  async function receiver(hooks: AppDeps["hooks"]): Promise<{ url: string; pushed: string[][] }> {
    const pushed: string[][] = [];
    const server = createServer(
      createApp({
        onPush: (urls) => {
          pushed.push(urls);
          return urls.some((u) => u === REPO) ? ["team-a/secret-app", "team-b/payroll"] : [];
        },
        hooks,
        isReady: () => true,
        registry: new Registry(),
        logger: silentLogger,
      }),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/git`, pushed };
  }

  const send = async (
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string }> => {
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
    });
    return { status: res.status, text: await res.text() };
  };

  const github = { "x-github-event": "push" };
  const cases: Array<{
    name: string;
    hooks: AppDeps["hooks"];
    body?: string;
    headers: Record<string, string>;
    status: number;
    triggers: boolean;
  }> = [
    {
      name: "no secret and allowUnsigned unset: refused",
      hooks: { maxBodyBytes: 4096 },
      headers: github,
      status: 403,
      triggers: false,
    },
    {
      name: "no secret and allowUnsigned false: refused, even with a signature",
      hooks: { maxBodyBytes: 4096, allowUnsigned: false },
      headers: { ...github, "x-hub-signature-256": signed("", push) },
      status: 403,
      triggers: false,
    },
    {
      name: "allowUnsigned: accepted",
      hooks: { maxBodyBytes: 4096, allowUnsigned: true },
      headers: github,
      status: 202,
      triggers: true,
    },
    {
      name: "a GitHub secret and no signature: refused",
      hooks: { maxBodyBytes: 4096, githubSecret: "s", allowUnsigned: true },
      headers: github,
      status: 401,
      triggers: false,
    },
    {
      name: "a GitHub secret and a valid signature: accepted",
      hooks: { maxBodyBytes: 4096, githubSecret: "s" },
      headers: { ...github, "x-hub-signature-256": signed("s", push) },
      status: 202,
      triggers: true,
    },
    {
      name: "a GitLab token, the wrong one: refused",
      hooks: { maxBodyBytes: 4096, gitlabToken: "t" },
      headers: { "x-gitlab-event": "Push Hook", "x-gitlab-token": "u" },
      status: 401,
      triggers: false,
    },
  ];
  for (const c of cases)
    void it(c.name, async () => {
      const { url, pushed } = await receiver(c.hooks);
      const res = await send(url, c.body ?? push, c.headers);
      assert.equal(res.status, c.status, res.text);
      assert.equal(pushed.length > 0, c.triggers);
      assert.doesNotMatch(res.text, /team-a|secret-app|payroll/);
    });

  void it("answers a push for a followed repository and for any other alike, naming no GitApp", async () => {
    const { url } = await receiver({ maxBodyBytes: 4096, githubSecret: "s" });
    const other = JSON.stringify({
      ref: "refs/heads/main",
      repository: { clone_url: "https://x.example/y.git" },
    });
    const followed = await send(url, push, { ...github, "x-hub-signature-256": signed("s", push) });
    const unknown = await send(url, other, { ...github, "x-hub-signature-256": signed("s", other) });
    assert.deepEqual([followed.status, followed.text], [202, '{"accepted":true}']);
    assert.deepEqual([unknown.status, unknown.text], [followed.status, followed.text]);
  });
});
