// A minimal HTTPS endpoint for the token-verify benchmark: answers GET /api
// and SelfSubjectReview for one bearer token, with kpki's API server
// certificate. Prints its port, runs until killed. (The faithful test API
// server is test/support/apiserver.ts; this one only has to answer fast.)
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import path from "node:path";

const [dir, token] = process.argv.slice(2);
const server = createServer(
  { cert: readFileSync(path.join(dir, "apiserver.crt")), key: readFileSync(path.join(dir, "apiserver.key")) },
  (request, response) => {
    request.resume();
    request.on("end", () => {
      const ok = request.headers.authorization === `Bearer ${token}`;
      response.writeHead(ok ? (request.method === "POST" ? 201 : 200) : 401, { "Content-Type": "application/json" });
      const id = token.split(".")[0];
      response.end(
        JSON.stringify(
          !ok
            ? { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }
            : request.method === "POST"
              ? { kind: "SelfSubjectReview", apiVersion: "authentication.k8s.io/v1", status: { userInfo: { username: `system:bootstrap:${id}`, groups: ["system:bootstrappers", "system:authenticated"] } } }
              : { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] },
        ),
      );
    });
  },
);
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
