/**
 * The soak's floor (bench/soak.ts): the least a correct webhook does, as its own process — a bare
 * node:https server with the same mutual TLS as gitgate's (the client certificate requested,
 * verified against kube-apiserver's client CA, an unverified connection refused), that reads each
 * review, parses it and answers its uid with the verdict the bench expects. No comparison, no
 * index, no bookkeeping: under the same load its latency is what node's TLS and HTTP alone cost on
 * this machine. Runs as a child process: one FloorSpec message in, `{ port }` back.
 */
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";

export interface FloorSpec {
  cert: string;
  key: string;
  /** The CA client certificates must chain to (webhook.clientCA). */
  clientCA: string;
  /** uid → allowed, for every review the load posts. */
  answers: Array<[string, boolean]>;
}

function serve(spec: FloorSpec): Server {
  const answers = new Map(spec.answers);
  const server = createServer(
    {
      cert: spec.cert,
      key: spec.key,
      ca: spec.clientCA,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        let status = 200;
        let body: string;
        if (!(req.socket as TLSSocket).authorized) {
          status = 403;
          body = '{"error":"client certificate required"}';
        } else {
          const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request?: { uid?: string } };
          const uid = review.request?.uid ?? "";
          body = JSON.stringify({
            apiVersion: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: { uid, allowed: answers.get(uid) ?? false },
          });
        }
        res.writeHead(status, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        });
        res.end(body);
      });
    },
  );
  // As gitgate's listener (server/https.ts): kube-apiserver keeps connections alive.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

if (process.send) {
  process.once("message", (spec: FloorSpec) => {
    const server = serve(spec);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      process.send?.({ port: typeof address === "object" && address ? address.port : 0 });
    });
  });
}
