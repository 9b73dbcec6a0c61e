// Issue 5, "Proven (tests)" and "Bad input": the real kpki CLI (token,
// discovery, sa, secret) against the test kube-apiserver
// (test/support/apiserver.ts), kept honest by real clients — kubectl lists
// and creates what kpki makes, curl gets the same HTTP status as
// `kpki token verify` for the same token, openssl computes the cluster-info
// JWS independently. Every failure is checked for the token's secret half.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detachedJws, detachedJwsValid } from "../../src/bootstrap/api/jws.js";
import { startApiServer, type SeenRequest, type TestApiServer } from "../support/apiserver.js";
import { runBin, runCli, type CliResult } from "../support/cli.js";
import { havePeer, kubectlWithHome, curl } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

// The user's view: no stack on purpose, no token or kubeconfig from the environment.
delete process.env.KPKI_DEBUG;
delete process.env.KPKI_TOKEN;
delete process.env.KUBECONFIG;

const root = tempDir("kpki-tokens-");
const hasKubectl = await havePeer("kubectl", "use the preinstalled /usr/bin/kubectl");
const hasCurl = await havePeer("curl", "apt-get install -y curl");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

const clusterDir = path.join(root, "cluster");
const pki = path.join(clusterDir, "pki");
const ca = path.join(pki, "ca.crt");
const adminConf = path.join(clusterDir, "admin.conf");
/** admin.conf pointed at the servers started with bootstrap-token or anonymous auth off (same certificates). */
const noBootstrapConf = path.join(root, "no-bootstrap-admin.conf");
const noCurrentContextConf = path.join(root, "no-current-context.conf");
const closedPortConf = path.join(root, "closed-port-admin.conf");
/** Another cluster's CA: the server's certificate does not chain to it. */
const foreignCa = path.join(root, "other", "pki", "ca.crt");
const home = path.join(root, "home");
const scratch = path.join(root, "scratch");

const NODE_GROUP = "system:bootstrappers:kubeadm:default-node-token";
const DAY = 24 * 3600_000;
const VALID = { id: "abcdef", secret: "0123456789abcdef" };
const EXPIRED = { id: "expird", secret: "1123456789abcdef" };
const SIGNING_ONLY = { id: "signon", secret: "fedcba9876543210" };
const AUTH_ONLY = { id: "authon", secret: "00112233445566aa" };
const WRONG_SECRET = "0123456789abcdee";
const tokenOf = ({ id, secret }: { id: string; secret: string }) => `${id}.${secret}`;
/** Every secret half a test here hands to kpki; none may appear in a failure's output. */
const SECRET_HALVES = [VALID.secret, EXPIRED.secret, SIGNING_ONLY.secret, AUTH_ONLY.secret, WRONG_SECRET];

let api: TestApiServer;
/** kube-apiserver --enable-bootstrap-token-auth=false. */
let noBootstrap: TestApiServer;
/** kube-apiserver --anonymous-auth=false: cluster-info is not readable without credentials. */
let noAnonymous: TestApiServer;
/** A port on 127.0.0.1 nobody listens on. */
/** Below the ephemeral range, so no server another test file starts (listen(0)) can be given it while this one runs. */
const closedPort = 1;
/** `kpki ca hash pki/ca.crt`: the pin kubeadm join takes. */
let pin: string;
let foreignPin: string;

beforeAll(async () => {
  for (const dir of [home, scratch]) mkdirSync(dir, { recursive: true });
  [api, noBootstrap, noAnonymous] = await Promise.all([startApiServer(), startApiServer({ bootstrapTokenAuth: false }), startApiServer({ anonymousAuth: false })]);
  // Only what these commands need: the CA, the serving certificate, sa.key for TokenRequest, and admin.conf.
  const init = await runCli(["init", "--master-ip", "127.0.0.1", "--apiserver-port", String(api.port), "--dir", clusterDir, "--node-name", "n1", "--only", "admin.conf", "--only", "apiserver", "--only", "sa"]);
  expect(init.stderr).toBe("");
  expect(init.exitCode).toBe(0);
  const other = await runCli(["init", "--master-ip", "127.0.0.1", "--dir", path.dirname(path.dirname(foreignCa)), "--only", "ca"]);
  expect(other.exitCode).toBe(0);
  for (const server of [api, noBootstrap, noAnonymous]) server.usePki(pki);

  const admin = readFileSync(adminConf, "utf8");
  expect(admin).toContain(`server: ${api.url}`);
  writeFileSync(noBootstrapConf, admin.replace(api.url, noBootstrap.url), { mode: 0o600 });
  writeFileSync(noCurrentContextConf, admin.replace(/^current-context: .*$/m, 'current-context: ""'), { mode: 0o600 });
  writeFileSync(closedPortConf, admin.replace(api.url, `https://127.0.0.1:${closedPort}`), { mode: 0o600 });

  pin = (await runCli(["ca", "hash", ca])).stdout.trim();
  foreignPin = (await runCli(["ca", "hash", foreignCa])).stdout.trim();
  expect(pin).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(foreignPin).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(foreignPin).not.toBe(pin);

  const now = Date.now();
  for (const server of [api, noBootstrap, noAnonymous]) {
    server.createBootstrapTokenSecret({ ...VALID, expiration: new Date(now + DAY), usages: ["signing", "authentication"], groups: [NODE_GROUP], description: "valid node token" });
  }
  api.createBootstrapTokenSecret({ ...EXPIRED, expiration: new Date(now - 3600_000), usages: ["signing", "authentication"], groups: [NODE_GROUP] });
  api.createBootstrapTokenSecret({ ...SIGNING_ONLY, expiration: new Date(now + DAY), usages: ["signing"], groups: [NODE_GROUP] });
  api.createBootstrapTokenSecret({ ...AUTH_ONLY, usages: ["authentication"], groups: [NODE_GROUP] });
});

afterAll(async () => {
  await Promise.all([api?.stop(), noBootstrap?.stop(), noAnonymous?.stop()]);
});

const kubectl = kubectlWithHome(home);


/** The seed's check, with the CA verified: curl --cacert ca.crt -H "Authorization: Bearer T" URL. */
const curlBearer = (server: TestApiServer, token: string, urlPath = "/api") => curl(["--cacert", ca, "-H", `Authorization: Bearer ${token}`, `${server.url}${urlPath}`]);

const verify = (server: TestApiServer, token: string, ...extra: string[]) => runCli(["token", "verify", "--server", server.url, "--token", token, ...extra]);
const json = <T = Record<string, unknown>>(result: CliResult): T => JSON.parse(result.stdout) as T;

/** No token's secret half anywhere in what kpki printed (it may be a real token with a typo). */
function expectNoSecretHalf(result: CliResult, extra: readonly string[] = []) {
  for (const secret of [...SECRET_HALVES, ...extra]) {
    expect(result.stdout, `stdout holds the secret half ${secret}`).not.toContain(secret);
    expect(result.stderr, `stderr holds the secret half ${secret}`).not.toContain(secret);
  }
  // Nor anything shaped like a whole token (but the documented example in a parse error).
  expect(`${result.stdout}\n${result.stderr}`.replaceAll("e.g. 07401b.f395accd246ae52d", "")).not.toMatch(/(?<![a-z0-9])[a-z0-9]{6}\.[a-z0-9]{16}(?![a-z0-9])/);
}

/**
 * A failure as a user sees it: the exit code, one line "kpki: …" on stderr
 * (with -o json, one JSON object {error, exitCode} saying the same), no
 * stack, no secret half.
 */
function expectFailure(result: CliResult, exitCode: number, says: readonly RegExp[] = [], secrets: readonly string[] = []) {
  const context = `exit ${result.exitCode}\nstderr: ${JSON.stringify(result.stderr)}\nstdout: ${JSON.stringify(result.stdout.slice(0, 600))}`;
  expect(result.exitCode, context).toBe(exitCode);
  let line = result.stderr;
  if (line.startsWith("{")) {
    expect(line, context).toMatch(/^\{[^\n]+\}\n$/);
    const error = JSON.parse(line) as { error: string; exitCode: number };
    expect(error.exitCode, context).toBe(exitCode);
    line = `kpki: ${error.error}\n`;
  }
  expect(line, context).toMatch(/^kpki: [^\n]+\n$/);
  expect(line, context).not.toMatch(/^\s+at /m);
  expect(line, context).not.toMatch(/internal error|\bundefined\b|\[object /i);
  for (const pattern of says) expect(line, context).toMatch(pattern);
  expectNoSecretHalf(result, secrets);
}

/** The requests a server saw since `mark`, for one path. */
const seenSince = (server: TestApiServer, mark: number, urlPath: string): SeenRequest[] => server.seen.slice(mark).filter((request) => request.path === urlPath);

describe.skipIf(!hasKubectl || !hasCurl)("token create, list, delete, generate (kubectl and curl watching)", () => {
  const secretData = (id: string) => {
    const secret = api.store.get("secrets", "kube-system", `bootstrap-token-${id}`);
    if (!secret) return undefined;
    return { type: secret.type, data: Object.fromEntries(Object.entries((secret.data ?? {}) as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")])) };
  };
  let created: { id: string; secret: string };

  it("token create makes kubeadm's Secret through the API; kubectl lists it and the token authenticates", async () => {
    const before = Date.now();
    const result = await runCli(["token", "create", "--kubeconfig", adminConf, "--ttl", "2h", "--usages", "signing,authentication", "--groups", "system:bootstrappers:ci", "--description", "CI runners"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const match = /^([a-z0-9]{6})\.([a-z0-9]{16})\n$/.exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();
    created = { id: match![1]!, secret: match![2]! };

    const stored = secretData(created.id)!;
    expect(stored.type).toBe("bootstrap.kubernetes.io/token");
    const { expiration, ...data } = stored.data;
    expect(data).toEqual({
      "token-id": created.id,
      "token-secret": created.secret,
      description: "CI runners",
      "usage-bootstrap-signing": "true",
      "usage-bootstrap-authentication": "true",
      "auth-extra-groups": "system:bootstrappers:ci",
    });
    // RFC 3339 in UTC, two hours from now (kubeadm's --ttl).
    expect(expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const expires = Date.parse(expiration!);
    expect(expires).toBeGreaterThanOrEqual(before + 2 * 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);

    const listed = await kubectl(["--kubeconfig", adminConf, "get", "secrets", "-n", "kube-system"]);
    expect(listed.stderr).toBe("");
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE\n/);
    expect(listed.stdout).toMatch(new RegExp(`^bootstrap-token-${created.id}\\s+bootstrap\\.kubernetes\\.io/token\\s+7\\s+\\S+$`, "m"));

    const mark = api.seen.length;
    expect((await curlBearer(api, tokenOf(created))).status).toBe(200);
    expect(api.seen.slice(mark)).toEqual([
      expect.objectContaining({ path: "/api", status: 200, user: `system:bootstrap:${created.id}`, groups: ["system:bootstrappers", "system:bootstrappers:ci", "system:authenticated"] }),
    ]);
  });

  it("--print-join-command prints kubeadm join with the CA pin kpki ca hash gives, and that join would pass discovery", async () => {
    const result = await runCli(["token", "create", "--kubeconfig", adminConf, "--print-join-command"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const match = new RegExp(`^kubeadm join 127\\.0\\.0\\.1:${api.port} --token ([a-z0-9]{6}\\.[a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})\\n$`).exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();
    const [, token, hash] = match!;
    const caHash = await runCli(["ca", "hash", ca]);
    expect(caHash.stdout).toBe(`${hash}\n`);
    expect(hash).toBe(pin);
    expect(secretData(token!.split(".")[0]!)?.data["token-secret"]).toBe(token!.split(".")[1]);
    // kubeadm's defaults: 24h, both usages, the default node group.
    expect(secretData(token!.split(".")[0]!)?.data).toMatchObject({ "usage-bootstrap-signing": "true", "usage-bootstrap-authentication": "true", "auth-extra-groups": NODE_GROUP });
    const discovery = await runCli(["discovery", "verify", "--server", api.url, "--token", token!, "--ca-hash", hash!]);
    expect(discovery.stderr).toBe("");
    expect(discovery.exitCode).toBe(0);
  });

  it("creating the same token twice is a conflict (exit 3); the first Secret is left alone", async () => {
    const token = { id: "twice1", secret: "aaaabbbbccccdddd" };
    const first = await runCli(["token", "create", tokenOf(token), "--kubeconfig", adminConf]);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe(`${tokenOf(token)}\n`);
    const stored = structuredClone(api.store.get("secrets", "kube-system", "bootstrap-token-twice1"));
    const again = await runCli(["token", "create", tokenOf(token), "--kubeconfig", adminConf, "--ttl", "1h"]);
    expectFailure(again, 3, [/a token with id twice1 exists already/], [token.secret]);
    expect(again.stdout).toBe("");
    expect(api.store.get("secrets", "kube-system", "bootstrap-token-twice1")).toEqual(stored);
    // A seeded token too.
    expectFailure(await runCli(["token", "create", tokenOf(VALID), "--kubeconfig", adminConf]), 3, [/a token with id abcdef exists already/]);
  });

  it("token list shows kubeadm's columns with the secret masked; -o json never holds a secret", async () => {
    const result = await runCli(["token", "list", "--kubeconfig", adminConf]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TOKEN\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION\s+EXTRA GROUPS$/);
    const row = (id: string) => lines.find((line) => line.startsWith(`${id}.`));
    expect(row(created.id)).toMatch(new RegExp(`^${created.id}\\.\\*{16}\\s+1h\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+authentication,signing\\s+CI runners\\s+system:bootstrappers:ci$`));
    expect(row(VALID.id)).toMatch(new RegExp(`^abcdef\\.\\*{16}\\s+23h\\s+\\S+Z\\s+authentication,signing\\s+valid node token\\s+${NODE_GROUP}$`));
    expect(row(EXPIRED.id)).toMatch(new RegExp(`^expird\\.\\*{16}\\s+<invalid>\\s+\\S+Z\\s+authentication,signing\\s+<none>\\s+${NODE_GROUP}$`));
    expect(row(SIGNING_ONLY.id)).toMatch(/^signon\.\*{16}\s+23h\s+\S+Z\s+signing\s+<none>\s+/);
    expect(row(AUTH_ONLY.id)).toMatch(/^authon\.\*{16}\s+<forever>\s+<never>\s+authentication\s+<none>\s+/);
    // Sorted by id, one row per token Secret.
    const ids = lines.slice(1).map((line) => line.slice(0, 6));
    expect(ids).toEqual([...ids].sort());
    const storedSecrets = api.store.list("secrets", "kube-system").filter((secret) => secret.type === "bootstrap.kubernetes.io/token");
    expect(ids).toHaveLength(storedSecrets.length);

    const asJson = await runCli(["token", "list", "--kubeconfig", adminConf, "-o", "json"]);
    expect(asJson.exitCode).toBe(0);
    const items = json<Record<string, unknown>[]>(asJson);
    expect(items.map((item) => item.id)).toEqual(ids);
    for (const item of items) expect(Object.keys(item)).not.toContain("secret");
    expect(items.find((item) => item.id === created.id)).toMatchObject({ usages: ["signing", "authentication"], groups: ["system:bootstrappers:ci"], description: "CI runners", problems: [] });
    expect(items.find((item) => item.id === AUTH_ONLY.id)).toMatchObject({ expires: null });
    for (const secret of storedSecrets) {
      const half = Buffer.from((secret.data as Record<string, string>)["token-secret"]!, "base64").toString("utf8");
      expect(result.stdout).not.toContain(half);
      expect(asJson.stdout).not.toContain(half);
    }
  });

  it("token delete removes the Secret (by id or by whole token, never echoing the secret); the token stops working", async () => {
    const result = await runCli(["token", "delete", created.id, "--kubeconfig", adminConf]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`bootstrap token "${created.id}" deleted\n`);
    expect(api.store.get("secrets", "kube-system", `bootstrap-token-${created.id}`)).toBeUndefined();
    expect((await curlBearer(api, tokenOf(created))).status).toBe(401);
    const listed = await kubectl(["--kubeconfig", adminConf, "get", "secrets", "-n", "kube-system", "-o", "name"]);
    expect(listed.stdout).not.toContain(`bootstrap-token-${created.id}`);
    expect(listed.stdout).toContain("secret/bootstrap-token-twice1");

    const byToken = await runCli(["token", "delete", "twice1.aaaabbbbccccdddd", "--kubeconfig", adminConf]);
    expect(byToken.stdout).toBe('bootstrap token "twice1" deleted\n');
    expect(byToken.stdout + byToken.stderr).not.toContain("aaaabbbbccccdddd");
    const again = await runCli(["token", "delete", "twice1", "--kubeconfig", adminConf]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe('bootstrap token "twice1" not found (nothing to delete)\n');
  });

  it("token generate prints a new valid token, offline", async () => {
    const mark = api.seen.length;
    const [one, two] = await Promise.all([runCli(["token", "generate"]), runCli(["token", "generate"])]);
    for (const result of [one, two]) {
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}\n$/);
    }
    expect(one.stdout).not.toBe(two.stdout);
    const asJson = json(await runCli(["token", "generate", "--ttl", "0", "-o", "json"]));
    expect(Object.keys(asJson).sort()).toEqual(["expires", "token"]);
    expect(asJson.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(asJson.expires).toBeNull();
    expect(api.seen.length).toBe(mark);
  });

  it("token generate --manifest is YAML kubectl can create, and the token then authenticates", async () => {
    const result = await runCli(["token", "generate", "--manifest", "--ttl", "1h", "--description", "from a manifest"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const documents = parseAllDocuments(result.stdout);
    expect(documents).toHaveLength(1);
    expect(documents[0]!.errors).toEqual([]);
    const manifest = documents[0]!.toJS() as { apiVersion: string; kind: string; type: string; metadata: Record<string, string>; stringData: Record<string, string> };
    const { id } = { id: manifest.stringData["token-id"]! };
    expect(manifest).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token", metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" } });
    expect(manifest.stringData).toMatchObject({ "usage-bootstrap-signing": "true", "usage-bootstrap-authentication": "true", "auth-extra-groups": NODE_GROUP, description: "from a manifest" });
    const token = `${id}.${manifest.stringData["token-secret"]}`;
    expect(token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(Date.parse(manifest.stringData.expiration!) - Date.now()).toBeGreaterThan(3500_000);
    // Nothing went to the cluster yet.
    expect((await curlBearer(api, token)).status).toBe(401);

    const file = path.join(scratch, "token.yaml");
    writeFileSync(file, result.stdout, { mode: 0o600 });
    // --validate=false: the test apiserver serves no OpenAPI document for kubectl's client-side schema check.
    const created = await kubectl(["--kubeconfig", adminConf, "create", "--validate=false", "-f", file]);
    expect(created.stderr).toBe("");
    expect(created.stdout.trim()).toBe(`secret/bootstrap-token-${id} created`);
    expect((await curlBearer(api, token)).status).toBe(200);
    const verified = await verify(api, token, "--ca", ca);
    expect(verified.exitCode).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^OK: authenticated as system:bootstrap:${id} in groups system:bootstrappers, ${NODE_GROUP}, system:authenticated; GET /api allowed\\n`));
  });
});

/** What api.seen says a refused token failed on, and the one cause kpki must name for it (with --kubeconfig). */
const CAUSES: Record<string, { seen: RegExp; cause: RegExp }> = {
  "unknown id": { seen: /bootstrap token: no-secret/, cause: /^no Secret kube-system\/bootstrap-token-[a-z0-9]{6}: the token id is unknown/ },
  "wrong secret": { seen: /bootstrap token: wrong-secret/, cause: /^token id [a-z0-9]{6} exists, but the secret half given is not its secret$/ },
  expired: { seen: /bootstrap token: expired/, cause: /^token [a-z0-9]{6}: it expired at \d{4}-\d\d-\d\dT/ },
  "not for authentication": { seen: /bootstrap token: not-for-authentication/, cause: /^token [a-z0-9]{6}: usage-bootstrap-authentication is not "true"/ },
  "bootstrap auth disabled": { seen: /bootstrap token authentication is disabled/, cause: /bootstrap-token authentication is off on the API server: start kube-apiserver with --enable-bootstrap-token-auth=true/ },
};

describe.skipIf(!hasCurl)("token verify and curl get the same status; --kubeconfig names the one cause", () => {
  const servers = { api: () => api, noBootstrap: () => noBootstrap };
  const conf = { api: adminConf, noBootstrap: noBootstrapConf };
  const cases: { what: string; server: keyof typeof servers; token: () => string; status: number; exitCode: number; cause?: keyof typeof CAUSES }[] = [
    { what: "a valid token", server: "api", token: () => tokenOf(VALID), status: 200, exitCode: 0 },
    { what: "a wrong-secret token", server: "api", token: () => `${VALID.id}.${WRONG_SECRET}`, status: 401, exitCode: 20, cause: "wrong secret" },
    { what: "an expired token", server: "api", token: () => tokenOf(EXPIRED), status: 401, exitCode: 20, cause: "expired" },
    { what: "a signing-only token", server: "api", token: () => tokenOf(SIGNING_ONLY), status: 401, exitCode: 20, cause: "not for authentication" },
    { what: "a valid token on a server without bootstrap-token auth", server: "noBootstrap", token: () => tokenOf(VALID), status: 401, exitCode: 20, cause: "bootstrap auth disabled" },
    { what: "an unknown token id", server: "api", token: () => "zzzzzz.0123456789abcdef", status: 401, exitCode: 20, cause: "unknown id" },
  ];

  it.each(cases)("$what: curl and kpki both get HTTP $status", async ({ server: which, token, status, exitCode, cause }) => {
    const server = servers[which]();
    const viaCurl = await curlBearer(server, token());
    expect(viaCurl.stderr).toBe("");
    expect(viaCurl.status).toBe(status);

    const result = await verify(server, token(), "--ca", ca);
    expect(result.exitCode).toBe(exitCode);
    expect(result.stdout).toContain(`  GET /api → HTTP ${status}\n`);
    expect(result.stdout).toContain(`  server ${server.url} (TLS: verified against --ca)\n`);
    const report = json(await verify(server, token(), "--ca", ca, "-o", "json"));
    expect(report.status).toBe(viaCurl.status);
    if (status === 200) {
      expect(result.stderr).toBe("");
      expect(result.stdout).toMatch(new RegExp(`^OK: authenticated as system:bootstrap:abcdef in groups system:bootstrappers, ${NODE_GROUP}, system:authenticated; GET /api allowed\\n`));
      expect(report).toMatchObject({ outcome: "authenticated", user: "system:bootstrap:abcdef", groups: ["system:bootstrappers", NODE_GROUP, "system:authenticated"], causes: [] });
      expect(result.stdout).not.toContain(VALID.secret);
    } else {
      expectFailure(result, 20, [/^kpki: token [a-z0-9]{6}: unauthorized\n$/]);
      expect(result.stdout).toMatch(/^FAILED: the API server refused the token \(401 Unauthorized\)\n/);
      // Without an admin's view, every cause is possible: kpki lists them all.
      expect(report).toMatchObject({ outcome: "unauthorized" });
      const causes = report.causes as string[];
      expect(causes).toHaveLength(5);
      const possible = [/the token id is unknown/, /the token's secret half is wrong/, /the token expired/, /the token is not for authentication/, /--enable-bootstrap-token-auth=true/];
      possible.forEach((pattern, index) => expect(causes[index]).toMatch(pattern));
      expect(cause).toBeDefined();
    }
  });

  it.each(cases.filter((entry) => entry.cause))("$what: with --kubeconfig, kpki names the one cause the server logged ($cause)", async ({ server: which, token, cause }) => {
    const server = servers[which]();
    const mark = server.seen.length;
    const result = await verify(server, token(), "--ca", ca, "--kubeconfig", conf[which], "-o", "json");
    expectFailure(result, 20, [/^kpki: token [a-z0-9]{6}: unauthorized\n$/]);
    // The server's own reason for the 401 (the response body never says).
    const refused = seenSince(server, mark, "/api");
    expect(refused).toHaveLength(1);
    expect(refused[0]!.status).toBe(401);
    const logged = refused[0]!.authenticationError!;
    const matching = Object.entries(CAUSES).filter(([, known]) => known.seen.test(logged));
    expect(matching.map(([name]) => name), logged).toEqual([cause]);
    // kpki read the token's Secret as the admin to find it.
    expect(seenSince(server, mark, `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${token().slice(0, 6)}`)).toEqual([
      expect.objectContaining({ user: "kubernetes-admin", status: token().startsWith("zzzzzz") ? 404 : 200 }),
    ]);
    const causes = json<{ causes: string[] }>(result).causes;
    expect(causes).toHaveLength(1);
    for (const [name, known] of Object.entries(CAUSES)) expect(known.cause.test(causes[0]!), `${name}: ${causes[0]}`).toBe(name === cause);

    const text = await verify(server, token(), "--ca", ca, "--kubeconfig", conf[which]);
    expect(text.stdout).toContain(`  cause: ${causes[0]}\n`);
    expectNoSecretHalf(text);
  });

  it("a valid token on a path it may not read: curl and kpki get 403; kpki says authenticated but forbidden (exit 21)", async () => {
    const viaCurl = await curlBearer(api, tokenOf(VALID), "/api/v1/namespaces");
    expect(viaCurl.status).toBe(403);
    const result = await verify(api, tokenOf(VALID), "--ca", ca, "--path", "/api/v1/namespaces");
    expectFailure(result, 21, [/^kpki: token abcdef: forbidden\n$/]);
    expect(result.stdout).toMatch(
      /^FAILED: authenticated as system:bootstrap:abcdef in groups [^\n]+, but not allowed to GET \/api\/v1\/namespaces \(namespaces is forbidden: User "system:bootstrap:abcdef" cannot list resource "namespaces" in API group "" at the cluster scope\)\n/,
    );
    expect(result.stdout).toContain("  GET /api/v1/namespaces → HTTP 403\n");
    expect(result.stdout).toContain("  cause: RBAC: the token's groups are not bound to a role that allows this");
    expect(json(await verify(api, tokenOf(VALID), "--ca", ca, "--path", "/api/v1/namespaces", "-o", "json"))).toMatchObject({ outcome: "forbidden", status: 403, user: "system:bootstrap:abcdef" });
  });
});

describe.skipIf(!hasCurl)("token verify: how the server is trusted, and when it cannot be reached", () => {
  it("--ca-hash trusts the CA cluster-info carries when it matches the pin, and only then sends the token", async () => {
    const mark = api.seen.length;
    const result = await verify(api, tokenOf(VALID), "--ca-hash", pin);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`  server ${api.url} (TLS: verified against the pinned CA)\n`);
    expect(result.stdout).not.toContain(VALID.secret);
    const [first, ...rest] = api.seen.slice(mark);
    expect(first).toMatchObject({ path: "/api/v1/namespaces/kube-public/configmaps/cluster-info", user: "system:anonymous", status: 200 });
    expect(rest[0]).toMatchObject({ path: "/api", user: "system:bootstrap:abcdef", status: 200 });
  });

  it("a wrong --ca-hash: exit 23, both pins named, and the token is never sent", async () => {
    const mark = api.seen.length;
    const result = await verify(api, tokenOf(VALID), "--ca-hash", foreignPin);
    expectFailure(result, 23, [new RegExp(`the server's CA \\(cluster-info\\) has pin ${pin}, not ${foreignPin}: this is not the cluster you pinned, or the pin is wrong`)]);
    expect(result.stdout).toBe("");
    expect(api.seen.slice(mark).map((request) => [request.path, request.user])).toEqual([["/api/v1/namespaces/kube-public/configmaps/cluster-info", "system:anonymous"]]);
  });

  it("--insecure works, and says so on stderr", async () => {
    const result = await verify(api, tokenOf(VALID), "--insecure");
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/^kpki: WARNING: --insecure: the server's certificate is not checked[^\n]*\n$/);
    expect(result.stdout).toContain("(TLS: NOT verified)");
    expect(result.stdout).toMatch(/^OK: authenticated as system:bootstrap:abcdef/);
    expect(json(await verify(api, tokenOf(VALID), "--insecure", "-o", "json"))).toMatchObject({ trust: "insecure", outcome: "authenticated" });
  });

  it("a CA from another PKI: curl fails verification, kpki exits 23 naming an unknown CA; nothing reached HTTP", async () => {
    const viaCurl = await curl(["--cacert", foreignCa, "-H", `Authorization: Bearer ${tokenOf(VALID)}`, `${api.url}/api`]);
    expect(viaCurl.exitCode).toBe(60);
    const mark = api.seen.length;
    const result = await verify(api, tokenOf(VALID), "--ca", foreignCa);
    expectFailure(result, 23, [/^kpki: token abcdef: tls-unknown-ca\n$/]);
    expect(result.stdout).toMatch(new RegExp(`^FAILED: 127\\.0\\.0\\.1:${api.port}'s certificate is not signed by the CA given \\([A-Z_]+\\): check --ca or --ca-hash is this cluster's\\n`));
    const report = json(await verify(api, tokenOf(VALID), "--ca", foreignCa, "-o", "json"));
    expect(report).toMatchObject({ outcome: "tls-unknown-ca", trust: "ca" });
    expect(report.status).toBeUndefined();
    expect(api.seen.length).toBe(mark);
  });

  it("--tls-server-name evil.example.com: exit 23, a name mismatch (curl agrees)", async () => {
    const viaCurl = await curl(["--cacert", ca, "--connect-to", `evil.example.com:${api.port}:127.0.0.1:${api.port}`, `https://evil.example.com:${api.port}/api`]);
    expect(viaCurl.exitCode).toBe(60);
    const result = await verify(api, tokenOf(VALID), "--ca", ca, "--tls-server-name", "evil.example.com");
    expectFailure(result, 23, [/^kpki: token abcdef: tls-name-mismatch\n$/]);
    expect(result.stdout).toMatch(/^FAILED: [^\n]*certificate does not cover the name or IP used \([^\n]*evil\.example\.com[^\n]*\)/);
    expect(json(await verify(api, tokenOf(VALID), "--ca", ca, "--tls-server-name", "evil.example.com", "-o", "json"))).toMatchObject({ outcome: "tls-name-mismatch" });
  });

  it("a closed port: exit 24, refused (with --ca, and with --ca-hash)", async () => {
    const server = `https://127.0.0.1:${closedPort}`;
    expect((await curl(["--cacert", ca, `${server}/api`])).exitCode).toBe(7);
    const result = await runCli(["token", "verify", "--server", server, "--token", tokenOf(VALID), "--ca", ca]);
    expectFailure(result, 24, [/^kpki: token abcdef: refused\n$/]);
    expect(result.stdout).toMatch(new RegExp(`^FAILED: 127\\.0\\.0\\.1:${closedPort} refused the connection: is kube-apiserver running and listening there\\?\\n`));
    const pinned = await runCli(["token", "verify", "--server", server, "--token", tokenOf(VALID), "--ca-hash", pin]);
    expectFailure(pinned, 24, [new RegExp(`^kpki: 127\\.0\\.0\\.1:${closedPort} refused the connection`)]);
    const report = json(await runCli(["token", "verify", "--server", server, "--token", tokenOf(VALID), "--ca", ca, "-o", "json"]));
    expect(report).toEqual({ server, path: "/api", trust: "ca", outcome: "refused", diagnosis: expect.stringContaining("refused the connection"), causes: [] });
  });

  it("-o json has one shape: server, path, trust, outcome, status, user, groups, diagnosis, causes", async () => {
    const ok = json(await verify(api, tokenOf(VALID), "--ca", ca, "-o", "json"));
    expect(Object.keys(ok).sort()).toEqual(["causes", "diagnosis", "groups", "outcome", "path", "server", "status", "trust", "user"]);
    expect(ok).toEqual({
      server: api.url,
      path: "/api",
      trust: "ca",
      outcome: "authenticated",
      status: 200,
      user: "system:bootstrap:abcdef",
      groups: ["system:bootstrappers", NODE_GROUP, "system:authenticated"],
      diagnosis: `authenticated as system:bootstrap:abcdef in groups system:bootstrappers, ${NODE_GROUP}, system:authenticated; GET /api allowed`,
      causes: [],
    });
    const refused = await verify(api, `${VALID.id}.${WRONG_SECRET}`, "--ca", ca, "-o", "json");
    expect(refused.exitCode).toBe(20);
    expect(Object.keys(json(refused)).sort()).toEqual(["causes", "diagnosis", "outcome", "path", "server", "status", "trust"]);
    expectNoSecretHalf(refused);
  });
});

describe.skipIf(!hasCurl)("discovery verify: kubeadm join's token discovery, step by step", () => {
  const discovery = (server: TestApiServer, token: string, ...extra: string[]) => runCli(["discovery", "verify", "--server", server.url, "--token", token, ...extra]);
  const STEPS = ["fetch cluster-info", "find the token's signature", "check the signature", "one cluster", "check the CA pin", "fetch again over verified TLS"];
  /** Each step's "ok"/"FAIL" from the text report. */
  const marks = (result: CliResult) => [...result.stdout.matchAll(/^ {2}(ok {2}|FAIL) {2}([^:]+):/gm)].map((match) => [match[2], match[1]!.trim()]);

  it("a signing token with the right pin passes every step (exit 0)", async () => {
    for (const token of [tokenOf(SIGNING_ONLY), tokenOf(VALID)]) {
      const result = await discovery(api, token, "--ca-hash", pin);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(marks(result)).toEqual(STEPS.map((step) => [step, "ok"]));
      expect(result.stdout).toContain(`kubeadm join 127.0.0.1:${api.port} with this token and pin would pass discovery; it then talks to ${api.url}\n`);
    }
    // host:port, as kubeadm join takes it.
    const bare = await runCli(["discovery", "verify", "--server", `127.0.0.1:${api.port}`, "--token", tokenOf(VALID), "--ca-hash", pin]);
    expect(bare.exitCode, bare.stderr).toBe(0);
    expect(marks(bare)).toEqual(STEPS.map((step) => [step, "ok"]));
    const report = json(await discovery(api, tokenOf(SIGNING_ONLY), "--ca-hash", pin, "-o", "json"));
    expect(report).toMatchObject({ server: api.url, ok: true, clusterServer: api.url, caPin: pin, caSubject: "CN=kubernetes" });
    expect((report.steps as { step: string; ok: boolean }[]).map(({ step, ok }) => [step, ok])).toEqual(STEPS.map((step) => [step, true]));
  });

  const failing: { what: string; server?: () => TestApiServer; token: () => string; pins?: () => string; step: string; says: RegExp }[] = [
    { what: "a wrong pin", token: () => tokenOf(SIGNING_ONLY), pins: () => foreignPin, step: "check the CA pin", says: /the CA's pin is sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}: the wrong cluster, or a wrong --ca-hash/ },
    { what: "a wrong secret", token: () => `${VALID.id}.${WRONG_SECRET}`, step: "check the signature", says: /failed to verify JWS signature: the token's secret half is wrong/ },
    { what: "an authentication-only token", token: () => tokenOf(AUTH_ONLY), step: "find the token's signature", says: /token id "authon" is invalid for this cluster or it has expired/ },
    { what: "an expired token", token: () => tokenOf(EXPIRED), step: "find the token's signature", says: /token id "expird" is invalid for this cluster or it has expired/ },
    { what: "a server with anonymous auth off", server: () => noAnonymous, token: () => tokenOf(VALID), step: "cluster-info", says: /HTTP 401: anonymous users may not read kube-public\/cluster-info .*anonymous auth must be on/ },
  ];
  it.each(failing)("$what fails at \"$step\" (exit 4)", async ({ server, token, pins, step, says }) => {
    const result = await discovery(server?.() ?? api, token(), "--ca-hash", pins?.() ?? pin);
    expectFailure(result, 4, [/^kpki: discovery failed: /, says]);
    const steps = marks(result);
    expect(steps.at(-1)).toEqual([step, "FAIL"]);
    expect(steps.slice(0, -1).every(([, mark]) => mark === "ok")).toBe(true);
    expect(result.stdout).toMatch(says);
    expect(result.stdout).toMatch(/kubeadm join would fail at the step marked FAIL\.\n$/);
  });

  it("the wrong pin is the only failure when all else is right (the pin step follows a good signature)", async () => {
    const result = await discovery(api, tokenOf(VALID), "--ca-hash", foreignPin, "-o", "json");
    expect(result.exitCode).toBe(4);
    const steps = json<{ steps: { step: string; ok: boolean }[] }>(result).steps;
    expect(steps.map(({ step, ok }) => [step, ok])).toEqual([...STEPS.slice(0, 4).map((step) => [step, true]), ["check the CA pin", false]]);
  });

  it("--unsafe-skip-ca-verification passes without a pin, and says what it trusted", async () => {
    const result = await discovery(api, tokenOf(SIGNING_ONLY), "--unsafe-skip-ca-verification");
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`  ok    check the CA pin: skipped (--unsafe-skip-ca-verification): the CA is ${pin}, trusted because the token signed it\n`);
  });

  it.skipIf(!hasOpenssl)("the JWS openssl computes over the served kubeconfig is the one the server serves and kpki accepts", async () => {
    const served = await curl(["-k", `${api.url}/api/v1/namespaces/kube-public/configmaps/cluster-info`]);
    expect(served.status).toBe(200);
    const data = (JSON.parse(served.body) as { data: Record<string, string> }).data;
    const kubeconfig = data.kubeconfig!;
    expect(parse(kubeconfig)).toMatchObject({ kind: "Config", clusters: [{ name: "", cluster: { server: api.url, "certificate-authority-data": readFileSync(ca).toString("base64") } }] });
    // kubeadm-facts §4: header {"alg":"HS256","kid":"<id>"}, HMAC-SHA256 keyed with the secret half over b64url(header).b64url(kubeconfig), payload detached.
    const header = Buffer.from(`{"alg":"HS256","kid":"${SIGNING_ONLY.id}"}`).toString("base64url");
    const signingInput = `${header}.${Buffer.from(kubeconfig).toString("base64url")}`;
    const hmac = await execa("openssl", ["dgst", "-sha256", "-hmac", SIGNING_ONLY.secret], { input: signingInput, encoding: "utf8" });
    const hex = /= ?([0-9a-f]{64})$/.exec(String(hmac.stdout).trim())?.[1];
    expect(hex, String(hmac.stdout)).toBeDefined();
    const vector = `${header}..${Buffer.from(hex!, "hex").toString("base64url")}`;

    expect(data[`jws-kubeconfig-${SIGNING_ONLY.id}`]).toBe(vector);
    expect(detachedJws(kubeconfig, SIGNING_ONLY.id, SIGNING_ONLY.secret)).toBe(vector);
    expect(detachedJwsValid(vector, kubeconfig, SIGNING_ONLY.id, SIGNING_ONLY.secret)).toBe(true);
    expect(detachedJwsValid(vector, kubeconfig, SIGNING_ONLY.id, WRONG_SECRET)).toBe(false);
    expect(detachedJwsValid(vector, `${kubeconfig}# altered\n`, SIGNING_ONLY.id, SIGNING_ONLY.secret)).toBe(false);
    // And through the CLI: the served signature checks out with this token.
    const result = await discovery(api, tokenOf(SIGNING_ONLY), "--ca-hash", pin);
    expect(result.stdout).toContain("  ok    check the signature: the JWS (HS256, keyed with the token's secret) signs cluster-info's kubeconfig\n");
  });
});

describe.skipIf(!hasCurl)("sa create and sa token: the seed's service-account flow", () => {
  const SA = "api-service-account";
  const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

  it("--dry-run prints the manifests (ClusterRoleBinding, or RoleBinding with --namespaced) and creates nothing", async () => {
    const cluster = await runCli(["sa", "create", SA, "--clusterrole", "view", "--dry-run"]);
    expect(cluster.stderr).toBe("");
    expect(cluster.exitCode).toBe(0);
    const objects = parseAllDocuments(cluster.stdout).map((document) => document.toJS());
    expect(objects).toEqual([
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SA, namespace: "default" } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: `default-${SA}-view` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
        subjects: [{ kind: "ServiceAccount", name: SA, namespace: "default" }],
      },
    ]);
    const namespaced = await runCli(["sa", "create", SA, "--clusterrole", "view", "--namespaced", "--dry-run"]);
    expect(parseAllDocuments(namespaced.stdout).map((document) => document.toJS())[1]).toEqual({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: `${SA}-view`, namespace: "default" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
      subjects: [{ kind: "ServiceAccount", name: SA, namespace: "default" }],
    });
    expect(api.store.get("serviceaccounts", "default", SA)).toBeUndefined();
  });

  it("without a binding: sa token gets 403 on /api/v1/namespaces (exit 21) and prints no token", async () => {
    const created = await runCli(["sa", "create", SA, "--kubeconfig", adminConf]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe(`ServiceAccount ${SA} created\n`);
    const result = await runCli(["sa", "token", SA, "--kubeconfig", adminConf]);
    expectFailure(result, 21, [new RegExp(`^kpki: the token for default/${SA}: forbidden\\n$`)]);
    expect(result.stdout).toMatch(new RegExp(`^FAILED: a token for default/${SA} \\(expires [^)]+\\): authenticated as system:serviceaccount:default:${SA} in groups [^\\n]*, but not allowed to GET /api/v1/namespaces`));
    expect(result.stdout).toContain("kpki sa create NAME --clusterrole view binds one");
    expect(result.stdout).not.toMatch(JWT);
  });

  it("sa create --clusterrole view binds it (the account is left as it was); a second run changes nothing", async () => {
    const serviceAccount = structuredClone(api.store.get("serviceaccounts", "default", SA));
    const result = await runCli(["sa", "create", SA, "--clusterrole", "view", "--kubeconfig", adminConf]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`ServiceAccount ${SA} exists (unchanged)\nClusterRoleBinding default-${SA}-view created\n`);
    expect(api.store.get("serviceaccounts", "default", SA)).toEqual(serviceAccount);
    expect(api.store.get("clusterrolebindings", undefined, `default-${SA}-view`)).toMatchObject({
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
      subjects: [{ kind: "ServiceAccount", name: SA, namespace: "default" }],
    });
    const again = await runCli(["sa", "create", SA, "--clusterrole", "view", "--kubeconfig", adminConf]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe(`ServiceAccount ${SA} exists (unchanged)\nClusterRoleBinding default-${SA}-view exists (unchanged)\n`);
  });

  it("sa token: OK against /api/v1/namespaces (exit 0), the token not printed", async () => {
    const mark = api.seen.length;
    const result = await runCli(["sa", "token", SA, "--kubeconfig", adminConf]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^OK: a token for default/${SA} \\(expires \\d{4}-[^)]+Z\\): authenticated as system:serviceaccount:default:${SA} in groups system:serviceaccounts, system:serviceaccounts:default, system:authenticated; GET /api/v1/namespaces allowed\\n {2}\\(not printed: use --print to see it\\)\\n$`));
    expect(result.stdout).not.toMatch(JWT);
    expect(seenSince(api, mark, "/api/v1/namespaces")).toEqual([expect.objectContaining({ user: `system:serviceaccount:default:${SA}`, authenticatedBy: "serviceaccount-token", status: 200 })]);
  });

  it("sa token --print prints a JWT that curl can use on /api/v1/namespaces", async () => {
    const result = await runCli(["sa", "token", SA, "--kubeconfig", adminConf, "--print", "--duration", "2h"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+\n$/);
    const token = result.stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { sub: string; exp: number; iat: number };
    expect(claims.sub).toBe(`system:serviceaccount:default:${SA}`);
    expect(claims.exp - claims.iat).toBe(7200);
    const viaCurl = await curlBearer(api, token, "/api/v1/namespaces");
    expect(viaCurl.status).toBe(200);
    expect((JSON.parse(viaCurl.body) as { items: { metadata: { name: string } }[] }).items.map((item) => item.metadata.name)).toContain("kube-system");
  });

  it("--namespaced binds in the account's namespace only", async () => {
    const created = await runCli(["sa", "create", "public-reader", "-n", "kube-public", "--clusterrole", "view", "--namespaced", "--kubeconfig", adminConf]);
    expect(created.stdout).toBe("ServiceAccount public-reader created\nRoleBinding public-reader-view created\n");
    expect(api.store.get("rolebindings", "kube-public", "public-reader-view")).toBeDefined();
    const inside = await runCli(["sa", "token", "public-reader", "-n", "kube-public", "--path", "/api/v1/namespaces/kube-public/configmaps", "--kubeconfig", adminConf]);
    expect(inside.exitCode).toBe(0);
    const outside = await runCli(["sa", "token", "public-reader", "-n", "kube-public", "--kubeconfig", adminConf]);
    expectFailure(outside, 21, [/forbidden/]);
  });

  it("an unknown ServiceAccount: a clear error, exit 2", async () => {
    const result = await runCli(["sa", "token", "nobody-here", "--kubeconfig", adminConf]);
    expectFailure(result, 2, [/^kpki: there is no ServiceAccount default\/nobody-here: create it with kpki sa create nobody-here -n default\n$/]);
    expect(result.stdout).toBe("");
  });
});

describe("secret generate: random values, printed or applied, never logged", () => {
  const decoded = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]));

  it("prints an Opaque Secret manifest with one value per key, of the length and charset asked", async () => {
    const result = await runCli(["secret", "generate", "app", "--key", "consoleApiKey", "--key", "other", "--length", "32", "--charset", "hex"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const manifest = parse(result.stdout) as { apiVersion: string; kind: string; type: string; metadata: Record<string, string>; data: Record<string, string> };
    expect(manifest).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "app", namespace: "default" } });
    expect(Object.keys(manifest.data)).toEqual(["consoleApiKey", "other"]);
    const values = decoded(manifest.data);
    for (const value of Object.values(values)) expect(value).toMatch(/^[0-9a-f]{32}$/);
    expect(values.consoleApiKey).not.toBe(values.other);
    const wide = parse((await runCli(["secret", "generate", "app", "--key", "k", "--length", "64", "--charset", "base64url"])).stdout) as { data: Record<string, string> };
    expect(decoded(wide.data).k).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(api.store.get("secrets", "default", "app")).toBeUndefined();
  });

  it.skipIf(!hasKubectl)("--apply creates it through the API and prints no value; a second --apply is a conflict (exit 3)", async () => {
    const result = await runCli(["secret", "generate", "app", "--key", "consoleApiKey", "--key", "other", "--length", "32", "--charset", "hex", "--apply", "--kubeconfig", adminConf]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("Secret default/app created with 2 random value(s) of 32 characters (not shown)\n");
    const stored = api.store.get("secrets", "default", "app")!;
    expect(stored.type).toBe("Opaque");
    const data = stored.data as Record<string, string>;
    const values = decoded(data);
    expect(Object.keys(values).sort()).toEqual(["consoleApiKey", "other"]);
    for (const [key, value] of Object.entries(values)) {
      expect(value).toMatch(/^[0-9a-f]{32}$/);
      expect(result.stdout).not.toContain(value);
      expect(result.stdout).not.toContain(data[key]!);
    }
    const viaKubectl = await kubectl(["--kubeconfig", adminConf, "get", "secret", "app", "-n", "default", "-o", "jsonpath={.data.consoleApiKey}"]);
    expect(viaKubectl.stdout).toBe(data.consoleApiKey);

    const again = await runCli(["secret", "generate", "app", "--key", "consoleApiKey", "--apply", "--kubeconfig", adminConf]);
    expectFailure(again, 3, [/^kpki: Secret default\/app exists already: kpki does not replace it/]);
    expect(again.stdout).toBe("");
    expect(api.store.get("secrets", "default", "app")!.data).toEqual(data);
  });
});

describe("bad input: one line on stderr, a non-zero exit, the secret half never printed", () => {
  const server = () => api.url;
  const verifyArgs = (token: string, ...trust: string[]) => ["token", "verify", "--server", server(), "--token", token, ...(trust.length ? trust : ["--ca", ca])];
  const badTokens: [string, string, RegExp, string][] = [
    ["upper case", "ABCDEF.0123456789ABCDEF", /it has upper-case letters/, "0123456789ABCDEF"],
    ["a 5-character id", "abcde.0123456789abcdef", /its id has 5 characters, not 6/, "0123456789abcdef"],
    ["a 7-character id", "abcdefg.0123456789abcdef", /its id has 7 characters, not 6/, "0123456789abcdef"],
    ["a 15-character secret", "abcdef.0123456789abcde", /its secret has 15 characters, not 16/, "0123456789abcde"],
    ["a 17-character secret", "abcdef.0123456789abcdefx", /its secret has 17 characters, not 16/, "0123456789abcdefx"],
    ["a missing dot", "abcdef0123456789abcdef", /it has no "\." between the 6-character id and the 16-character secret/, "0123456789abcdef"],
    ["two dots", "abcdef.01234567.89abcdef", /it has more than one "\."/, "01234567"],
    ["a character outside a-z0-9", "abcdef.0123456789abcd_f", /it has characters other than a-z and 0-9/, "0123456789abcd_f"],
  ];

  it.each(badTokens)("a token with %s is refused before any request (token verify, discovery verify, token create)", async (_what, token, why, secretHalf) => {
    const marks = [api.seen.length, noBootstrap.seen.length];
    const tokenFile = path.join(scratch, `bad-token-${badTokens.findIndex((entry) => entry[1] === token)}`);
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const commands = [
      verifyArgs(token),
      ["discovery", "verify", "--server", server(), "--token", token, "--ca-hash", pin],
      ["token", "create", token, "--kubeconfig", adminConf],
      ["token", "verify", "--server", server(), "--token-file", tokenFile, "--ca", ca],
    ];
    for (const args of commands) {
      const result = await runCli(args);
      expectFailure(result, 2, [/--token is not a bootstrap token|token is not a bootstrap token/, why, /the form is \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/], [secretHalf]);
      expect(result.stdout).toBe("");
      // The id half may be shown; the secret half never.
      expect(result.stderr).not.toContain(token);
    }
    expect([api.seen.length, noBootstrap.seen.length]).toEqual(marks);
  });

  const badFlags: [string, () => string[], number, RegExp[]][] = [
    ["--ca-hash without sha256:", () => verifyArgs(tokenOf(VALID), "--ca-hash", pin.slice("sha256:".length)), 2, [/--ca-hash "[0-9a-f]{64}" must start with "sha256:" \(kpki ca hash prints it\)/]],
    ["--ca-hash of the wrong length", () => verifyArgs(tokenOf(VALID), "--ca-hash", pin.slice(0, -2)), 2, [/--ca-hash must be sha256: and 64 hex digits .*this has 62 characters after it/]],
    ["discovery --ca-hash without sha256:", () => ["discovery", "verify", "--server", server(), "--token", tokenOf(VALID), "--ca-hash", "md5:abc"], 2, [/--ca-hash "md5:abc" must start with "sha256:"/]],
    ["a server URL without https (token verify)", () => ["token", "verify", "--server", server().replace("https:", "http:"), "--token", tokenOf(VALID), "--ca", ca], 2, [/--server "http:\/\/127\.0\.0\.1:\d+" is not https: the API server only speaks TLS; give https:\/\/HOST:PORT/]],
    ["a server URL without https (discovery verify)", () => ["discovery", "verify", "--server", "http://127.0.0.1:6443", "--token", tokenOf(VALID), "--ca-hash", pin], 2, [/--server "http:\/\/127\.0\.0\.1:6443" is not https/]],
    ["a server that is no host:port (discovery verify)", () => ["discovery", "verify", "--server", "127.0.0.1:99999", "--token", tokenOf(VALID), "--ca-hash", pin], 2, [/--server: port "99999" is not a number from 1 to 65535/]],
    ["a kubeconfig with no current context (token list)", () => ["token", "list", "--kubeconfig", noCurrentContextConf], 2, [/no-current-context\.conf has no current-context: set one \(kubectl config use-context NAME\) or pick one with --context/]],
    ["a kubeconfig with no current context (token create)", () => ["token", "create", tokenOf(VALID), "--kubeconfig", noCurrentContextConf], 2, [/has no current-context/]],
    ["a kubeconfig with no current context (token verify --kubeconfig)", () => [...verifyArgs(tokenOf(VALID)), "--kubeconfig", noCurrentContextConf], 2, [/has no current-context/]],
    ["a kubeconfig with no current context (sa token)", () => ["sa", "token", "x", "--kubeconfig", noCurrentContextConf], 2, [/has no current-context/]],
    ["an unreachable server (token list)", () => ["token", "list", "--kubeconfig", closedPortConf], 4, [/^kpki: 127\.0\.0\.1:\d+ refused the connection: is kube-apiserver running and listening there\?\n$/]],
    ["an unreachable server (token create)", () => ["token", "create", tokenOf(VALID), "--kubeconfig", closedPortConf], 4, [/refused the connection/]],
    ["an unreachable server (secret generate --apply)", () => ["secret", "generate", "x", "--key", "k", "--apply", "--kubeconfig", closedPortConf], 4, [/refused the connection/]],
    ["both --ca and --insecure", () => verifyArgs(tokenOf(VALID), "--ca", ca, "--insecure"), 2, [/give exactly one of --ca FILE, --ca-hash sha256:…, --insecure/]],
    ["both --ca and --ca-hash", () => verifyArgs(tokenOf(VALID), "--ca", ca, "--ca-hash", pin), 2, [/give exactly one of --ca FILE, --ca-hash sha256:…, --insecure/]],
    ["none of --ca, --ca-hash, --insecure", () => ["token", "verify", "--server", server(), "--token", tokenOf(VALID)], 2, [/give exactly one of --ca FILE, --ca-hash sha256:…, --insecure/]],
    ["no token at all", () => ["token", "verify", "--server", server(), "--ca", ca], 2, [/give the token with --token, --token-file or KPKI_TOKEN/]],
    ["discovery without a pin", () => ["discovery", "verify", "--server", server(), "--token", tokenOf(VALID)], 2, [/give --ca-hash sha256:… \(kpki ca hash prints it\), or --unsafe-skip-ca-verification/]],
  ];

  it.each(badFlags)("%s", async (_what, args, exitCode, says) => {
    const result = await runCli(args());
    expectFailure(result, exitCode, says);
    expect(result.stdout).toBe("");
  });

  it("an unreachable server for token verify and discovery verify: the report on stdout, one line on stderr", async () => {
    const closed = `https://127.0.0.1:${closedPort}`;
    const verified = await runCli(["token", "verify", "--server", closed, "--token", tokenOf(VALID), "--ca", ca]);
    expectFailure(verified, 24, [/^kpki: token abcdef: refused\n$/]);
    const discovered = await runCli(["discovery", "verify", "--server", closed, "--token", tokenOf(VALID), "--ca-hash", pin]);
    expectFailure(discovered, 4, [new RegExp(`^kpki: discovery failed: 127\\.0\\.0\\.1:${closedPort} refused the connection`)]);
    expect(discovered.stdout).toMatch(/^ {2}FAIL {2}connect: /);
  });
});

describe("the built bin: exit codes and no stack traces", () => {
  it("exits with token verify's documented codes, one line on stderr each", async () => {
    const cases: [string[], number, RegExp][] = [
      [["token", "verify", "--server", api.url, "--token", tokenOf(VALID), "--ca", ca], 0, /^$/],
      [["token", "verify", "--server", api.url, "--token", `${VALID.id}.${WRONG_SECRET}`, "--ca", ca], 20, /^kpki: token abcdef: unauthorized$/],
      [["token", "verify", "--server", api.url, "--token", tokenOf(VALID), "--ca", ca, "--path", "/api/v1/namespaces"], 21, /^kpki: token abcdef: forbidden$/],
      [["token", "verify", "--server", api.url, "--token", tokenOf(VALID), "--ca", foreignCa], 23, /^kpki: token abcdef: tls-unknown-ca$/],
      [["token", "verify", "--server", `https://127.0.0.1:${closedPort}`, "--token", tokenOf(VALID), "--ca", ca], 24, /^kpki: token abcdef: refused$/],
      [["token", "verify", "--server", api.url, "--token", tokenOf(VALID), "--ca", ca, "--insecure"], 2, /^kpki: give exactly one of --ca FILE, --ca-hash sha256:…, --insecure$/],
      [["token", "verify", "--server", api.url, "--token", "ABCDEF.0123456789ABCDEF", "--ca", ca], 2, /^kpki: --token is not a bootstrap token \(it has upper-case letters/],
      [["discovery", "verify", "--server", api.url, "--token", tokenOf(AUTH_ONLY), "--ca-hash", pin], 4, /^kpki: discovery failed: token id "authon" is invalid for this cluster or it has expired/],
    ];
    const results = await Promise.all(cases.map(([args]) => runBin(args)));
    for (const [index, [args, exitCode, stderr]] of cases.entries()) {
      const result = results[index]!;
      const context = `kpki ${args.join(" ")}\n${result.stderr}`;
      expect(result.exitCode, context).toBe(exitCode);
      expect(result.stderr, context).toMatch(stderr);
      expect(result.stderr.split("\n").filter(Boolean).length, context).toBeLessThanOrEqual(1);
      expect(result.stderr, context).not.toMatch(/^\s+at |internal error/m);
      for (const secret of SECRET_HALVES) expect(`${result.stdout}${result.stderr}`, context).not.toContain(secret);
    }
  });
});
