import { createHash, createPublicKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detachedJws, parseGoRfc3339, SA_ISSUER, startApiServer, TOKEN_RE, UNAUTHORIZED_BODY, VERSION_INFO, type TestApiServer } from "../support/apiserver.js";
import { runCli } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer, kubectlWithHome, curl } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

// The test apiserver (test/support/apiserver.ts) kept honest by real clients:
// kubectl and curl against kpki-made certificates, with the expectations of
// /work/shared/reference/kubeadm-facts.md §3 (bootstrap tokens, 401/403
// bodies, default RBAC) and §4 (cluster-info and its detached JWS, checked
// against an HMAC computed by openssl).
const root = tempDir("kpki-apiserver-");
const hasKubectl = await havePeer("kubectl", "install kubectl (Debian: kubernetes-client conflicts; use the preinstalled /usr/bin/kubectl)");
const hasCurl = await havePeer("curl", "apt-get install -y curl");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

const clusterDir = path.join(root, "cluster");
const pki = path.join(clusterDir, "pki");
const home = path.join(root, "home");
const scratch = path.join(root, "scratch");
const ca = path.join(pki, "ca.crt");
const adminConf = path.join(clusterDir, "admin.conf");
const adminCert = path.join(scratch, "admin.crt");
const adminKey = path.join(scratch, "admin.key");
const foreignCert = path.join(scratch, "foreign.crt");
const foreignKey = path.join(scratch, "foreign.key");

const NODE_GROUP = "system:bootstrappers:kubeadm:default-node-token";
const DAY = 24 * 3600_000;
const VALID = { id: "abcdef", secret: "0123456789abcdef" };
const EXPIRED = { id: "expird", secret: "0123456789abcdef" };
const SIGNING_ONLY = { id: "signon", secret: "fedcba9876543210" };
const AUTH_ONLY = { id: "authon", secret: "00112233445566aa" };
const tokenOf = ({ id, secret }: { id: string; secret: string }) => `${id}.${secret}`;

/** The kubeadm-facts §3.2 "typical" 403 for a node token listing namespaces (shape marked "typical, not verified" there). */
const FORBIDDEN_NAMESPACES = (user: string) =>
  `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces is forbidden: User \\"${user}\\" cannot list resource \\"namespaces\\" in API group \\"\\" at the cluster scope","reason":"Forbidden","details":{"kind":"namespaces"},"code":403}`;

// The fake's clock runs `skew` ahead of the real one (the `now` option).
let skew = 0;
let api: TestApiServer;
/** --enable-bootstrap-token-auth=false and --anonymous-auth=false. */
let noBootstrap: TestApiServer;
let v1beta1Only: TestApiServer;

beforeAll(async () => {
  mkdirSync(home);
  mkdirSync(scratch);
  api = await startApiServer({ now: () => new Date(Date.now() + skew) });
  noBootstrap = await startApiServer({ bootstrapTokenAuth: false, anonymousAuth: false });
  v1beta1Only = await startApiServer({ selfSubjectReviewVersions: ["v1beta1"] });
  const init = await runCli(["init", "--master-ip", "127.0.0.1", "--apiserver-port", String(api.port), "--dir", clusterDir, "--node-name", "n1"]);
  expect(init.stderr).toBe("");
  expect(init.exitCode).toBe(0);
  // The serving certificate names 127.0.0.1, not a port: the other servers can present it too.
  for (const server of [api, noBootstrap, v1beta1Only]) server.usePki(pki);
  // Another cluster's admin.conf: a client certificate from a CA this server does not trust.
  const other = await runCli(["init", "--master-ip", "127.0.0.1", "--apiserver-port", String(api.port), "--dir", path.join(root, "other"), "--node-name", "n1", "--only", "admin.conf"]);
  expect(other.exitCode).toBe(0);
  const extract = (conf: string, cert: string, key: string) => {
    const config = parse(readFileSync(conf, "utf8")) as { users: { user: Record<string, string> }[] };
    writeFileSync(cert, Buffer.from(config.users[0]!.user["client-certificate-data"]!, "base64"));
    writeFileSync(key, Buffer.from(config.users[0]!.user["client-key-data"]!, "base64"), { mode: 0o600 });
  };
  extract(adminConf, adminCert, adminKey);
  extract(path.join(root, "other", "admin.conf"), foreignCert, foreignKey);

  const now = Date.now();
  for (const server of [api, noBootstrap, v1beta1Only]) {
    server.createBootstrapTokenSecret({ ...VALID, expiration: new Date(now + DAY), usages: ["signing", "authentication"], groups: [NODE_GROUP], description: "valid node token" });
  }
  api.createBootstrapTokenSecret({ ...EXPIRED, expiration: new Date(now - 3600_000), usages: ["signing", "authentication"], groups: [NODE_GROUP] });
  api.createBootstrapTokenSecret({ ...SIGNING_ONLY, expiration: new Date(now + DAY), usages: ["signing"], groups: [NODE_GROUP] });
  api.createBootstrapTokenSecret({ ...AUTH_ONLY, usages: ["authentication"], groups: [NODE_GROUP] });
});

afterAll(async () => {
  await Promise.all([api?.stop(), noBootstrap?.stop(), v1beta1Only?.stop()]);
});

const kubectl = kubectlWithHome(home);


const bearer = (server: TestApiServer, token: string, urlPath: string, extra: string[] = []) =>
  curl(["--cacert", ca, "-H", `Authorization: Bearer ${token}`, ...extra, `${server.url}${urlPath}`]);
const asAdmin = (urlPath: string, extra: string[] = []) => curl(["--cacert", ca, "--cert", adminCert, "--key", adminKey, ...extra, `${api.url}${urlPath}`]);
const postJson = (body: unknown) => ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", JSON.stringify(body)];

describe.skipIf(!hasCurl)("bootstrap-token authentication with curl (kubeadm-facts §3.2)", () => {
  it("a valid token gets 200 on /api, as system:bootstrap:<id> in the sorted bootstrapper groups", async () => {
    const mark = api.seen.length;
    const result = await bearer(api, tokenOf(VALID), "/api");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${api.port}` }] });
    expect(api.seen.slice(mark)).toEqual([
      expect.objectContaining({ method: "GET", path: "/api", status: 200, user: "system:bootstrap:abcdef", groups: ["system:bootstrappers", NODE_GROUP, "system:authenticated"], authenticatedBy: "bootstrap-token" }),
    ]);
  });

  it("SelfSubjectReview shows the token's identity", async () => {
    const result = await bearer(api, tokenOf(VALID), "/apis/authentication.k8s.io/v1/selfsubjectreviews", postJson({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }));
    expect(result.status).toBe(201);
    expect(JSON.parse(result.body)).toEqual({
      kind: "SelfSubjectReview",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: "system:bootstrap:abcdef", groups: ["system:bootstrappers", NODE_GROUP, "system:authenticated"] } },
    });
  });

  const refused: [string, () => string, string][] = [
    ["a wrong secret", () => `${VALID.id}.0123456789abcdee`, "bootstrap token: wrong-secret"],
    ["an expired token", () => tokenOf(EXPIRED), "bootstrap token: expired"],
    ["a signing-only token (no usage-bootstrap-authentication)", () => tokenOf(SIGNING_ONLY), "bootstrap token: not-for-authentication"],
    ["an unknown token id", () => "zzzzzz.0123456789abcdef", "bootstrap token: no-secret"],
    ["upper case", () => "ABCDEF.0123456789ABCDEF", "bootstrap token: malformed"],
    ["a short secret", () => "abcdef.0123456789abcde", "bootstrap token: malformed"],
    ["a long id", () => "abcdefg.0123456789abcdef", "bootstrap token: malformed"],
    ["no dot", () => "abcdef0123456789abcdef", "bootstrap token: malformed"],
    ["an extra character", () => `${tokenOf(VALID)}0`, "bootstrap token: malformed"],
  ];
  it.each(refused)("%s gets 401 with exactly the Unauthorized Status", async (_what, token, reason) => {
    const mark = api.seen.length;
    const result = await bearer(api, token(), "/api");
    expect(result.status).toBe(401);
    expect(result.body).toBe(`${UNAUTHORIZED_BODY}\n`);
    expect(UNAUTHORIZED_BODY).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}');
    const [seen] = api.seen.slice(mark);
    expect(seen).toMatchObject({ status: 401, user: undefined, groups: [] });
    expect(seen!.authenticationError).toContain(reason);
  });

  it("a valid token gets 401 when the apiserver runs without --enable-bootstrap-token-auth", async () => {
    const result = await bearer(noBootstrap, tokenOf(VALID), "/api");
    expect(result.status).toBe(401);
    expect(result.body).toBe(`${UNAUTHORIZED_BODY}\n`);
    expect(noBootstrap.seen.at(-1)!.authenticationError).toContain("disabled");
  });

  it("with --anonymous-auth=false, no credentials is a 401 too", async () => {
    const result = await curl(["--cacert", ca, `${noBootstrap.url}/version`]);
    expect(result.status).toBe(401);
    expect(result.body).toBe(`${UNAUTHORIZED_BODY}\n`);
  });

  it("a client certificate from another CA is a 401 (the x509 authenticator fails; TLS only requests certificates), unless a valid token comes too", async () => {
    const rejected = api.rejected.length;
    const alone = await curl(["--cacert", ca, "--cert", foreignCert, "--key", foreignKey, `${api.url}/version`]);
    expect(alone.status).toBe(401);
    expect(alone.body).toBe(`${UNAUTHORIZED_BODY}\n`);
    expect(api.seen.at(-1)!.authenticationError).toMatch(/^x509: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_SIGNATURE_FAILURE)$/);
    expect(api.rejected.slice(rejected)).toEqual([expect.objectContaining({ commonName: "kubernetes-admin" })]);
    // The union goes on to the bearer token after the x509 error.
    const withToken = await curl(["--cacert", ca, "--cert", foreignCert, "--key", foreignKey, "-H", `Authorization: Bearer ${tokenOf(VALID)}`, `${api.url}/api`]);
    expect(withToken.status).toBe(200);
    expect(api.seen.at(-1)).toMatchObject({ user: "system:bootstrap:abcdef", authenticatedBy: "bootstrap-token" });
    // A valid client certificate wins over any token, even a bad one (x509 comes first).
    const both = await curl(["--cacert", ca, "--cert", adminCert, "--key", adminKey, "-H", "Authorization: Bearer abcdef.wrongwrongwrongw", `${api.url}/api`]);
    expect(both.status).toBe(200);
    expect(api.seen.at(-1)).toMatchObject({ user: "kubernetes-admin", authenticatedBy: "x509" });
  });

  it("a valid token listing namespaces gets 403 with the Forbidden Status", async () => {
    const result = await bearer(api, tokenOf(VALID), "/api/v1/namespaces");
    expect(result.status).toBe(403);
    expect(result.body).toBe(`${FORBIDDEN_NAMESPACES("system:bootstrap:abcdef")}\n`);
  });

  it("the node-token group reaches what kubeadm grants it (§3.3) and nothing more", async () => {
    const token = tokenOf(VALID);
    for (const name of ["kubeadm-config", "kubelet-config", "kube-proxy"]) {
      const result = await bearer(api, token, `/api/v1/namespaces/kube-system/configmaps/${name}`);
      expect(result.status, name).toBe(200);
      expect(JSON.parse(result.body)).toMatchObject({ kind: "ConfigMap", apiVersion: "v1", metadata: { name, namespace: "kube-system" } });
    }
    expect((await bearer(api, token, "/apis/certificates.k8s.io/v1/certificatesigningrequests")).status).toBe(200);
    // get nodes is granted: a missing node is a 404, not a 403.
    expect((await bearer(api, token, "/api/v1/nodes/n1")).status).toBe(404);
    const secret = await bearer(api, token, "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef");
    expect(secret.status).toBe(403);
    expect(JSON.parse(secret.body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'secrets "bootstrap-token-abcdef" is forbidden: User "system:bootstrap:abcdef" cannot get resource "secrets" in API group "" in the namespace "kube-system"',
      reason: "Forbidden",
      details: { name: "bootstrap-token-abcdef", kind: "secrets" },
      code: 403,
    });
    expect((await bearer(api, token, "/api/v1/namespaces/kube-system/configmaps")).status).toBe(403);
    expect((await bearer(api, token, "/api/v1/namespaces/default/configmaps/kubeadm-config")).status).toBe(403);
  });

  it("checks every other rule of §3.2: Secret being deleted, wrong type, token-id mismatch, unparseable expiry, bad extra group", async () => {
    const cases: [string, () => void][] = [
      ["being deleted", () => void (api.createBootstrapTokenSecret({ id: "delete", secret: "0123456789abcdef", usages: ["authentication"] }).secret.metadata.deletionTimestamp = new Date().toISOString())],
      ["wrong type", () => api.createBootstrapTokenSecret({ id: "opaque", secret: "0123456789abcdef", usages: ["authentication"], type: "Opaque" })],
      [
        "token-id mismatch",
        () => {
          const { secret } = api.createBootstrapTokenSecret({ id: "mismat", secret: "0123456789abcdef", usages: ["authentication"] });
          (secret.data as Record<string, string>)["token-id"] = Buffer.from("other1").toString("base64");
        },
      ],
      ["unparseable expiry", () => api.createBootstrapTokenSecret({ id: "badexp", secret: "0123456789abcdef", usages: ["authentication"], expiration: "2999-01-01 00:00:00" })],
      ["bad extra group", () => api.createBootstrapTokenSecret({ id: "badgrp", secret: "0123456789abcdef", usages: ["authentication"], groups: ["system:bootstrappers:Upper"] })],
      ["extra group outside system:bootstrappers", () => api.createBootstrapTokenSecret({ id: "outgrp", secret: "0123456789abcdef", usages: ["authentication"], groups: ["system:masters"] })],
    ];
    const ids = ["delete", "opaque", "mismat", "badexp", "badgrp", "outgrp"];
    for (const [index, [what, make]] of cases.entries()) {
      make();
      const result = await bearer(api, `${ids[index]}.0123456789abcdef`, "/api");
      expect(result.status, what).toBe(401);
      expect(result.body, what).toBe(`${UNAUTHORIZED_BODY}\n`);
    }
    // An RFC 3339 expiry with an offset and fractions still parses (Go's time.RFC3339 accepts both).
    api.createBootstrapTokenSecret({ id: "offset", secret: "0123456789abcdef", usages: ["authentication"], expiration: "2999-01-01T00:00:00.5+02:00" });
    expect((await bearer(api, "offset.0123456789abcdef", "/api")).status).toBe(200);
  });

  it("expiry follows the server's clock (the now option)", async () => {
    expect((await bearer(api, tokenOf(VALID), "/api")).status).toBe(200);
    skew = DAY + 60_000;
    try {
      expect((await bearer(api, tokenOf(VALID), "/api")).status).toBe(401);
      expect(api.seen.at(-1)!.authenticationError).toContain("expired");
    } finally {
      skew = 0;
    }
    expect((await bearer(api, tokenOf(VALID), "/api")).status).toBe(200);
  });

  it("a bearer header that carries no token is anonymous, not a 401 (bearertoken.go)", async () => {
    for (const header of ["Authorization: Bearer ", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Bearer  abcdef.0123456789abcdef"]) {
      const result = await curl(["--cacert", ca, "-H", header, `${api.url}/api`]);
      expect(result.status, header).toBe(403);
      expect(JSON.parse(result.body).message, header).toBe('forbidden: User "system:anonymous" cannot get path "/api"');
    }
  });
});

describe.skipIf(!hasCurl)("anonymous requests and cluster-info (kubeadm-facts §4)", () => {
  type ClusterInfo = { kind: string; metadata: { name: string; namespace: string }; data: Record<string, string> };
  const clusterInfo = async () => {
    const result = await curl(["-k", `${api.url}/api/v1/namespaces/kube-public/configmaps/cluster-info`]);
    expect(result.status).toBe(200);
    return JSON.parse(result.body) as ClusterInfo;
  };

  it("curl -k reads kube-public/cluster-info anonymously, with jws-kubeconfig-<id> for live signing tokens only", async () => {
    const mark = api.seen.length;
    const info = await clusterInfo();
    expect(api.seen.slice(mark)).toEqual([expect.objectContaining({ user: "system:anonymous", groups: ["system:unauthenticated"], authenticatedBy: "anonymous", status: 200 })]);
    expect(info).toMatchObject({ kind: "ConfigMap", metadata: { name: "cluster-info", namespace: "kube-public" } });
    const keys = Object.keys(info.data);
    expect(keys).toContain("jws-kubeconfig-abcdef");
    expect(keys).toContain("jws-kubeconfig-signon");
    // Authentication-only, expired: no signature.
    expect(keys).not.toContain("jws-kubeconfig-authon");
    expect(keys).not.toContain("jws-kubeconfig-expird");
    expect(keys).toEqual(["jws-kubeconfig-abcdef", "jws-kubeconfig-signon", "kubeconfig"]);
  });

  it("data.kubeconfig holds one cluster named \"\" (server and CA), no users or contexts", async () => {
    const info = await clusterInfo();
    const kubeconfig = parse(info.data.kubeconfig!) as Record<string, unknown>;
    expect(kubeconfig).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "", cluster: { server: api.url, "certificate-authority-data": Buffer.from(readFileSync(ca)).toString("base64") } }],
      contexts: null,
      "current-context": "",
      preferences: {},
      users: null,
    });
    // The same bytes over verified TLS (the join flow's second fetch) as over -k.
    const verified = await curl(["--cacert", ca, `${api.url}/api/v1/namespaces/kube-public/configmaps/cluster-info`]);
    expect(JSON.parse(verified.body).data.kubeconfig).toBe(info.data.kubeconfig);
  });

  it.skipIf(!hasOpenssl)("the detached JWS matches an HMAC-SHA256 computed by openssl with the token secret", async () => {
    const info = await clusterInfo();
    const jws = info.data["jws-kubeconfig-abcdef"]!;
    const [header, payload, signature] = jws.split(".");
    expect(payload).toBe("");
    expect(Buffer.from(header!, "base64url").toString("utf8")).toBe('{"alg":"HS256","kid":"abcdef"}');
    const signingInput = `${header}.${Buffer.from(info.data.kubeconfig!).toString("base64url")}`;
    // printf the signing input into openssl, keyed with the 16-character secret only (§4).
    const hmac = await execa("sh", ["-c", `printf '%s' "$1" | openssl dgst -sha256 -hmac "$2"`, "sh", signingInput, VALID.secret], { encoding: "utf8" });
    const hex = /= ([0-9a-f]{64})$/.exec(String(hmac.stdout).trim())![1]!;
    expect(signature).toBe(Buffer.from(hex, "hex").toString("base64url"));
    // Not with the full token as key (the docs' claim, §4 "Doc discrepancy").
    const full = await execa("sh", ["-c", `printf '%s' "$1" | openssl dgst -sha256 -hmac "$2"`, "sh", signingInput, tokenOf(VALID)], { encoding: "utf8" });
    expect(String(full.stdout)).not.toContain(hex);
  });

  it("signatures follow the tokens: a new signing token appears, a deleted one goes", async () => {
    api.createBootstrapTokenSecret({ id: "newsig", secret: "aaaaaaaaaaaaaaaa", usages: ["signing"], expiration: new Date(Date.now() + DAY) });
    expect(Object.keys((await clusterInfo()).data)).toContain("jws-kubeconfig-newsig");
    const deleted = await asAdmin("/api/v1/namespaces/kube-system/secrets/bootstrap-token-newsig", ["-X", "DELETE"]);
    expect(deleted.status).toBe(200);
    expect(Object.keys((await clusterInfo()).data)).not.toContain("jws-kubeconfig-newsig");
  });

  it("anonymous gets /version, /healthz, but not /api, other ConfigMaps or a SelfSubjectReview", async () => {
    const version = await curl(["--cacert", ca, `${api.url}/version`]);
    expect(version.status).toBe(200);
    expect(JSON.parse(version.body)).toEqual(VERSION_INFO);
    const healthz = await curl(["--cacert", ca, `${api.url}/healthz`]);
    expect([healthz.status, healthz.body]).toEqual([200, "ok"]);
    const apiRoot = await curl(["--cacert", ca, `${api.url}/api`]);
    expect(apiRoot.status).toBe(403);
    expect(apiRoot.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/api\\"","reason":"Forbidden","details":{},"code":403}\n');
    expect((await curl(["-k", `${api.url}/api/v1/namespaces/kube-public/configmaps`])).status).toBe(403);
    expect((await curl(["-k", `${api.url}/api/v1/namespaces/kube-system/configmaps/kubeadm-config`])).status).toBe(403);
    expect((await curl(["-k", ...postJson({ kind: "SelfSubjectReview", apiVersion: "authentication.k8s.io/v1" }), `${api.url}/apis/authentication.k8s.io/v1/selfsubjectreviews`])).status).toBe(403);
  });
});

describe.skipIf(!hasCurl)("the Secrets API as curl sees it", () => {
  const tokenSecret = (id: string) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    type: "bootstrap.kubernetes.io/token",
    stringData: { "token-id": id, "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true", "auth-extra-groups": NODE_GROUP },
  });

  it("creates a token Secret (201), refuses a duplicate (409 AlreadyExists), and the token works at once", async () => {
    const created = await asAdmin("/api/v1/namespaces/kube-system/secrets", postJson(tokenSecret("crtd01")));
    expect(created.status).toBe(201);
    const object = JSON.parse(created.body);
    expect(object).toMatchObject({ kind: "Secret", apiVersion: "v1", metadata: { name: "bootstrap-token-crtd01", namespace: "kube-system" }, type: "bootstrap.kubernetes.io/token" });
    expect(object.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(object.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(object.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(object.stringData).toBeUndefined();
    expect(Buffer.from(object.data["token-id"], "base64").toString()).toBe("crtd01");
    const again = await asAdmin("/api/v1/namespaces/kube-system/secrets", postJson(tokenSecret("crtd01")));
    expect(again.status).toBe(409);
    expect(again.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \\"bootstrap-token-crtd01\\" already exists","reason":"AlreadyExists","details":{"name":"bootstrap-token-crtd01","kind":"secrets"},"code":409}\n');
    expect((await bearer(api, "crtd01.0123456789abcdef", "/api")).status).toBe(200);
  });

  it("lists with fieldSelector=type=bootstrap.kubernetes.io/token, gets and deletes (then 404 and 401)", async () => {
    await asAdmin("/api/v1/namespaces/kube-system/secrets", postJson({ metadata: { name: "not-a-token" }, stringData: { a: "b" } }));
    const list = await asAdmin("/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken");
    expect(list.status).toBe(200);
    const body = JSON.parse(list.body) as { kind: string; items: { metadata: { name: string }; type: string; kind?: string }[] };
    expect(body.kind).toBe("SecretList");
    const names = body.items.map((item) => item.metadata.name);
    expect(names).toContain("bootstrap-token-abcdef");
    expect(names).toContain("bootstrap-token-crtd01");
    expect(names).not.toContain("not-a-token");
    expect(new Set(body.items.map((item) => item.type))).toEqual(new Set(["bootstrap.kubernetes.io/token"]));
    expect(body.items[0]!.kind).toBeUndefined();
    expect(names).toEqual([...names].sort());

    const got = await asAdmin("/api/v1/namespaces/kube-system/secrets/bootstrap-token-crtd01");
    expect(got.status).toBe(200);
    const gone = await asAdmin("/api/v1/namespaces/kube-system/secrets/bootstrap-token-crtd01", ["-X", "DELETE"]);
    expect(gone.status).toBe(200);
    expect(JSON.parse(gone.body)).toMatchObject({ kind: "Status", status: "Success", details: { name: "bootstrap-token-crtd01", kind: "secrets" } });
    const missing = await asAdmin("/api/v1/namespaces/kube-system/secrets/bootstrap-token-crtd01");
    expect(missing.status).toBe(404);
    expect(missing.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \\"bootstrap-token-crtd01\\" not found","reason":"NotFound","details":{"name":"bootstrap-token-crtd01","kind":"secrets"},"code":404}\n');
    expect((await bearer(api, "crtd01.0123456789abcdef", "/api")).status).toBe(401);
  });

  it("answers 404 for unknown paths, 400 for bad selectors, 422 for bad names, 404 for a missing namespace", async () => {
    const unknown = await asAdmin("/api/v1/widgets");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}\n');
    expect((await asAdmin("/nope")).status).toBe(404);
    const selector = await asAdmin("/api/v1/namespaces/kube-system/secrets?fieldSelector=data.x%3Dy");
    expect(selector.status).toBe(400);
    expect(JSON.parse(selector.body).message).toBe("field label not supported: data.x");
    const badName = await asAdmin("/api/v1/namespaces/default/secrets", postJson({ metadata: { name: "Bad_Name" } }));
    expect(badName.status).toBe(422);
    expect(JSON.parse(badName.body)).toMatchObject({ reason: "Invalid", details: { name: "Bad_Name", kind: "Secret", causes: [{ reason: "FieldValueInvalid", field: "metadata.name" }] } });
    expect(JSON.parse(badName.body).message).toMatch(/^Secret "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    const noNamespace = await asAdmin("/api/v1/namespaces/nowhere/secrets", postJson({ metadata: { name: "x" } }));
    expect(noNamespace.status).toBe(404);
    expect(JSON.parse(noNamespace.body).message).toBe('namespaces "nowhere" not found');
  });
});

describe.skipIf(!hasKubectl)("kubectl against the test apiserver", () => {
  it("kubectl get secrets -n kube-system lists the token Secrets with their type (server-side table)", async () => {
    const mark = api.seen.length;
    const result = await kubectl(["--kubeconfig", adminConf, "get", "secrets", "-n", "kube-system"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE$/);
    for (const id of ["abcdef", "expird", "signon", "authon"]) expect(result.stdout).toMatch(new RegExp(`^bootstrap-token-${id}\\s+bootstrap\\.kubernetes\\.io/token\\s+\\d+\\s+\\S+$`, "m"));
    // kubectl asked for a Table and got one.
    const list = api.seen.slice(mark).find((request) => request.path === "/api/v1/namespaces/kube-system/secrets")!;
    expect(list.accept).toContain("as=Table");
    expect(list).toMatchObject({ user: "kubernetes-admin", status: 200, verb: "list" });
  });

  it("kubectl get secret -o json shows the stored data", async () => {
    const result = await kubectl(["--kubeconfig", adminConf, "get", "secret", "bootstrap-token-abcdef", "-n", "kube-system", "-o", "json"]);
    expect(result.exitCode).toBe(0);
    const secret = JSON.parse(result.stdout);
    expect(Buffer.from(secret.data["token-secret"], "base64").toString()).toBe(VALID.secret);
    expect(Buffer.from(secret.data.description, "base64").toString()).toBe("valid node token");
    expect(Buffer.from(secret.data["auth-extra-groups"], "base64").toString()).toBe(NODE_GROUP);
  });

  it("kubectl get secrets --field-selector type=bootstrap.kubernetes.io/token -o name", async () => {
    const result = await kubectl(["--kubeconfig", adminConf, "get", "secrets", "-n", "kube-system", "--field-selector", "type=bootstrap.kubernetes.io/token", "-o", "name"]);
    expect(result.stderr).toBe("");
    const names = result.stdout.trim().split("\n");
    expect(names).toContain("secret/bootstrap-token-abcdef");
    expect(names.every((name) => name.startsWith("secret/bootstrap-token-"))).toBe(true);
  });

  it("kubectl get namespaces lists the four kubeadm namespaces", async () => {
    const result = await kubectl(["--kubeconfig", adminConf, "get", "namespaces"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const rows = result.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+STATUS\s+AGE$/);
    expect(rows.slice(1).map((row) => row.split(/\s+/).slice(0, 2))).toEqual([
      ["default", "Active"],
      ["kube-node-lease", "Active"],
      ["kube-public", "Active"],
      ["kube-system", "Active"],
    ]);
  });

  it("kubectl auth whoami with admin.conf", async () => {
    const result = await kubectl(["--kubeconfig", adminConf, "auth", "whoami", "-o", "json"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout).status.userInfo).toEqual({ username: "kubernetes-admin", groups: ["kubeadm:cluster-admins", "system:authenticated"] });
  });

  it("kubectl auth whoami falls back to v1beta1 on a server without authentication.k8s.io/v1 SelfSubjectReview", async () => {
    const result = await kubectl(["--kubeconfig", adminConf, "--server", v1beta1Only.url, "auth", "whoami", "-o", "json"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toMatchObject({ apiVersion: "authentication.k8s.io/v1beta1", status: { userInfo: { username: "kubernetes-admin" } } });
    expect(v1beta1Only.seen.some((request) => request.path === "/apis/authentication.k8s.io/v1/selfsubjectreviews" && request.status === 404)).toBe(true);
  });

  it("kubectl auth can-i answers from the same RBAC", async () => {
    const yes = await kubectl(["--kubeconfig", adminConf, "auth", "can-i", "delete", "secrets", "-n", "kube-system"]);
    expect(yes.stdout.trim()).toBe("yes");
  });

  it("a service account: create, TokenRequest, 403 on namespaces until a view ClusterRoleBinding, then 200", async () => {
    const created = await kubectl(["--kubeconfig", adminConf, "create", "serviceaccount", "ci-reader", "-n", "default"]);
    expect(created.stderr).toBe("");
    expect(created.stdout.trim()).toBe("serviceaccount/ci-reader created");
    const again = await kubectl(["--kubeconfig", adminConf, "create", "serviceaccount", "ci-reader", "-n", "default"]);
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr).toContain('serviceaccounts "ci-reader" already exists');

    const issued = await kubectl(["--kubeconfig", adminConf, "create", "token", "ci-reader", "-n", "default", "--duration", "2h"]);
    expect(issued.stderr).toBe("");
    const token = issued.stdout.trim();
    const [header, payload] = token.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")));
    const keyId = createHash("sha256").update(createPublicKey(readFileSync(path.join(pki, "sa.pub"))).export({ type: "spki", format: "der" })).digest("base64url");
    expect(header).toEqual({ alg: "RS256", kid: keyId });
    expect(payload).toMatchObject({ iss: SA_ISSUER, sub: "system:serviceaccount:default:ci-reader", aud: [SA_ISSUER], "kubernetes.io": { namespace: "default", serviceaccount: { name: "ci-reader" } } });
    expect(payload.exp - payload.iat).toBe(7200);

    const user = "system:serviceaccount:default:ci-reader";
    const denied = await bearer(api, token, "/api/v1/namespaces");
    expect(denied.status).toBe(403);
    expect(denied.body).toBe(`${FORBIDDEN_NAMESPACES(user)}\n`);

    const review = await bearer(api, token, "/apis/authentication.k8s.io/v1/selfsubjectreviews", postJson({ kind: "SelfSubjectReview", apiVersion: "authentication.k8s.io/v1" }));
    expect(JSON.parse(review.body).status.userInfo).toMatchObject({ username: user, groups: ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"] });

    const bound = await kubectl(["--kubeconfig", adminConf, "create", "clusterrolebinding", "ci-reader-view", "--clusterrole", "view", "--serviceaccount", "default:ci-reader"]);
    expect(bound.stderr).toBe("");
    expect(bound.stdout.trim()).toBe("clusterrolebinding.rbac.authorization.k8s.io/ci-reader-view created");
    const allowed = await bearer(api, token, "/api/v1/namespaces");
    expect(allowed.status).toBe(200);
    expect(JSON.parse(allowed.body).items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual(["default", "kube-node-lease", "kube-public", "kube-system"]);
    // view does not reach Secrets.
    expect((await bearer(api, token, "/api/v1/namespaces/kube-system/secrets")).status).toBe(403);

    const listed = await kubectl(["--kubeconfig", adminConf, "get", "clusterrolebinding", "ci-reader-view", "-o", "wide"]);
    expect(listed.stdout).toMatch(/ci-reader-view\s+ClusterRole\/view\s+\S+\s+default\/ci-reader/);

    // Deleting the ServiceAccount invalidates its tokens (the validator looks it up).
    const deleted = await kubectl(["--kubeconfig", adminConf, "delete", "serviceaccount", "ci-reader", "-n", "default"]);
    expect(deleted.stdout.trim()).toBe('serviceaccount "ci-reader" deleted');
    const after = await bearer(api, token, "/api/v1/namespaces");
    expect(after.status).toBe(401);
    expect(after.body).toBe(`${UNAUTHORIZED_BODY}\n`);
  });

  it("a RoleBinding to edit in one namespace reaches Secrets there only", async () => {
    expect((await kubectl(["--kubeconfig", adminConf, "create", "namespace", "team-a"])).stdout.trim()).toBe("namespace/team-a created");
    expect((await kubectl(["--kubeconfig", adminConf, "create", "serviceaccount", "deployer", "-n", "team-a"])).exitCode).toBe(0);
    const token = (await kubectl(["--kubeconfig", adminConf, "create", "token", "deployer", "-n", "team-a"])).stdout.trim();
    expect((await bearer(api, token, "/api/v1/namespaces/team-a/secrets")).status).toBe(403);
    const bound = await kubectl(["--kubeconfig", adminConf, "create", "rolebinding", "deployer-edit", "-n", "team-a", "--clusterrole", "edit", "--serviceaccount", "team-a:deployer"]);
    expect(bound.stderr).toBe("");
    expect((await bearer(api, token, "/api/v1/namespaces/team-a/secrets")).status).toBe(200);
    const forbidden = await bearer(api, token, "/api/v1/namespaces/default/secrets");
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body).message).toBe('secrets is forbidden: User "system:serviceaccount:team-a:deployer" cannot list resource "secrets" in API group "" in the namespace "default"');
    // A new namespace comes with its default ServiceAccount and kube-root-ca.crt.
    const objects = await kubectl(["--kubeconfig", adminConf, "get", "serviceaccounts,configmaps", "-n", "team-a", "-o", "name"]);
    expect(objects.stdout.trim().split("\n").sort()).toEqual(["configmap/kube-root-ca.crt", "serviceaccount/default", "serviceaccount/deployer"]);
  });

  it("kubectl create secret makes a working bootstrap token through the API; kubectl delete revokes it", async () => {
    const created = await kubectl([
      "--kubeconfig",
      adminConf,
      "create",
      "secret",
      "generic",
      "bootstrap-token-kctl01",
      "-n",
      "kube-system",
      "--type",
      "bootstrap.kubernetes.io/token",
      "--from-literal",
      "token-id=kctl01",
      "--from-literal",
      "token-secret=0123456789abcdef",
      "--from-literal",
      "usage-bootstrap-authentication=true",
      "--from-literal",
      "usage-bootstrap-signing=true",
      "--from-literal",
      `auth-extra-groups=${NODE_GROUP}`,
    ]);
    expect(created.stderr).toBe("");
    expect(created.stdout.trim()).toBe("secret/bootstrap-token-kctl01 created");
    expect((await bearer(api, "kctl01.0123456789abcdef", "/api")).status).toBe(200);
    expect(Object.keys(api.clusterInfo()!.data as object)).toContain("jws-kubeconfig-kctl01");
    const deleted = await kubectl(["--kubeconfig", adminConf, "delete", "secret", "bootstrap-token-kctl01", "-n", "kube-system"]);
    expect(deleted.stdout.trim()).toBe('secret "bootstrap-token-kctl01" deleted');
    expect((await bearer(api, "kctl01.0123456789abcdef", "/api")).status).toBe(401);
  });

  it("kubectl with a bootstrap token: whoami works, get namespaces is Forbidden", async () => {
    const base = ["--kubeconfig", "/dev/null", "--server", api.url, "--certificate-authority", ca, "--token", tokenOf(VALID)];
    const whoami = await kubectl([...base, "auth", "whoami", "-o", "json"]);
    expect(whoami.stderr).toBe("");
    expect(JSON.parse(whoami.stdout).status.userInfo.username).toBe("system:bootstrap:abcdef");
    const namespaces = await kubectl([...base, "get", "namespaces"]);
    expect(namespaces.exitCode).not.toBe(0);
    expect(namespaces.stderr).toContain('Error from server (Forbidden): namespaces is forbidden: User "system:bootstrap:abcdef" cannot list resource "namespaces" in API group "" at the cluster scope');
    const expired = await kubectl([...base.slice(0, -1), tokenOf(EXPIRED), "get", "--raw", "/api"]);
    expect(expired.exitCode).not.toBe(0);
    expect(expired.stderr).toContain("Unauthorized");
  });
});

describe.skipIf(!hasCurl || !hasOpenssl)("service-account tokens checked independently", () => {
  it("a TokenRequest token's signature verifies with openssl and sa.pub; too short a duration is refused", async () => {
    await asAdmin("/api/v1/namespaces/default/serviceaccounts", postJson({ metadata: { name: "signer-check" } }));
    const response = await asAdmin("/api/v1/namespaces/default/serviceaccounts/signer-check/token", postJson({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600, audiences: [SA_ISSUER] } }));
    expect(response.status).toBe(201);
    const request = JSON.parse(response.body);
    expect(request).toMatchObject({ kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", spec: { expirationSeconds: 600, audiences: [SA_ISSUER] } });
    const token = request.status.token as string;
    expect(Date.parse(request.status.expirationTimestamp) - Date.now()).toBeGreaterThan(590_000);
    const [header, payload, signature] = token.split(".");
    const input = path.join(scratch, "jwt-input");
    const sig = path.join(scratch, "jwt-sig");
    writeFileSync(input, `${header}.${payload}`);
    writeFileSync(sig, Buffer.from(signature!, "base64url"));
    const verified = await openssl(["dgst", "-sha256", "-verify", path.join(pki, "sa.pub"), "-signature", sig, input]);
    expect(verified.stdout.trim()).toBe("Verified OK");

    const short = await asAdmin("/api/v1/namespaces/default/serviceaccounts/signer-check/token", postJson({ spec: { expirationSeconds: 60 } }));
    expect(short.status).toBe(422);
    expect(JSON.parse(short.body).message).toBe('TokenRequest.authentication.k8s.io "signer-check" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes');

    // A token for another audience, or tampered with, is refused.
    const other = await asAdmin("/api/v1/namespaces/default/serviceaccounts/signer-check/token", postJson({ spec: { audiences: ["vault"] } }));
    expect((await bearer(api, JSON.parse(other.body).status.token, "/api")).status).toBe(401);
    expect(api.seen.at(-1)!.authenticationError).toContain("wrong-audience");
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), sub: "system:serviceaccount:kube-system:admin" })).toString("base64url")}.${signature}`;
    expect((await bearer(api, tampered, "/api")).status).toBe(401);
    expect((await bearer(api, token, "/api")).status).toBe(200);
  });
});

describe("the test apiserver's own helpers and options", () => {
  it("matches Go on token and expiry syntax (JS `$` is end of input, like Go's \\z; time.RFC3339)", () => {
    expect(TOKEN_RE.test("abcdef.0123456789abcdef")).toBe(true);
    expect(TOKEN_RE.test("abcdef.0123456789abcdef\n")).toBe(false);
    expect(parseGoRfc3339("2030-01-02T03:04:05Z")).toBe(Date.UTC(2030, 0, 2, 3, 4, 5));
    expect(parseGoRfc3339("2030-01-02T03:04:05.25-01:30")).toBe(Date.UTC(2030, 0, 2, 4, 34, 5, 250));
    for (const bad of ["2030-01-02 03:04:05Z", "2030-01-02T03:04:05", "2030-02-30T00:00:00Z", "2030-01-02t03:04:05z", "1893456000"]) expect(parseGoRfc3339(bad), bad).toBeNaN();
  });

  it("clusterInfoKubeconfig sets data.kubeconfig; clusterInfo() signs it like the BootstrapSigner", async () => {
    const server = await startApiServer({ clusterInfoKubeconfig: "apiVersion: v1\nkind: Config\n" });
    try {
      server.createBootstrapTokenSecret({ id: "sig123", secret: "abcdefabcdefabcd", usages: ["signing"] });
      const info = server.clusterInfo()!;
      expect(info.data).toEqual({ "jws-kubeconfig-sig123": detachedJws("apiVersion: v1\nkind: Config\n", "sig123", "abcdefabcdefabcd"), kubeconfig: "apiVersion: v1\nkind: Config\n" });
      // The stored object has no signatures: they are computed on read.
      expect(server.store.get("configmaps", "kube-public", "cluster-info")!.data).toEqual({ kubeconfig: "apiVersion: v1\nkind: Config\n" });
      // A Secret made with the helper is what kubeadm writes (kubeadm-facts §3.1).
      expect(server.store.get("secrets", "kube-system", "bootstrap-token-sig123")).toMatchObject({
        kind: "Secret",
        apiVersion: "v1",
        type: "bootstrap.kubernetes.io/token",
        data: { "token-id": Buffer.from("sig123").toString("base64"), "token-secret": Buffer.from("abcdefabcdefabcd").toString("base64"), "usage-bootstrap-signing": Buffer.from("true").toString("base64") },
      });
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!hasCurl)('invalidClientCertificate: "close" ends the connection instead of answering 401', async () => {
    const server = await startApiServer({ invalidClientCertificate: "close" });
    try {
      server.usePki(pki);
      const result = await curl(["--cacert", ca, "--cert", foreignCert, "--key", foreignKey, `${server.url}/version`]);
      expect(result.exitCode).not.toBe(0);
      expect(server.seen).toEqual([]);
      expect(server.rejected).toEqual([expect.objectContaining({ commonName: "kubernetes-admin" })]);
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!hasCurl)("tokenCleaner removes expired token Secrets at the next request; issueServiceAccountToken mints tokens the server accepts", async () => {
    const server = await startApiServer({ tokenCleaner: true });
    try {
      server.usePki(pki);
      server.createBootstrapTokenSecret({ id: "old001", secret: "0123456789abcdef", usages: ["authentication"], expiration: new Date(Date.now() - 1000) });
      expect(server.store.get("secrets", "kube-system", "bootstrap-token-old001")).toBeDefined();
      expect((await curl(["-k", `${server.url}/version`])).status).toBe(200);
      expect(server.store.get("secrets", "kube-system", "bootstrap-token-old001")).toBeUndefined();
      const { token } = server.issueServiceAccountToken("kube-system", "default");
      const review = await bearer(server, token, "/apis/authentication.k8s.io/v1/selfsubjectreviews", postJson({ kind: "SelfSubjectReview", apiVersion: "authentication.k8s.io/v1" }));
      expect(review.status).toBe(201);
      const userInfo = JSON.parse(review.body).status.userInfo;
      expect(userInfo).toMatchObject({ username: "system:serviceaccount:kube-system:default", uid: server.store.get("serviceaccounts", "kube-system", "default")!.metadata.uid });
      expect(userInfo.extra["authentication.kubernetes.io/credential-id"][0]).toMatch(/^JTI=[0-9a-f-]{36}$/);
    } finally {
      await server.stop();
    }
  });
});
