import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

const root = tempDir("kpki-kubeconfig-");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");
const hasKubectl = await havePeer("kubectl", "see https://kubernetes.io/docs/tasks/tools/");
const home = path.join(root, "home");
mkdirSync(home);

const pki = path.join(root, "cluster", "pki");
const out = path.join(root, "out");
mkdirSync(out);
let files = 0;
const newFile = (name: string) => path.join(out, `${++files}-${name}`);

const cluster = path.dirname(pki);
const create = (...args: string[]) => runCli(["kubeconfig", "create", "--dir", cluster, ...args]);

async function kubectl(args: string[]) {
  return execa("kubectl", args, { reject: false, env: { HOME: home, KUBECONFIG: "" } });
}

interface Kubeconfig {
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  users: { name: string; user: { "client-certificate-data": string; "client-key-data": string } }[];
  "current-context": string;
}
const load = (file: string) => parseYaml(readFileSync(file, "utf8")) as Kubeconfig;
const pem = (data: string) => Buffer.from(data, "base64").toString();

describe.skipIf(!hasOpenssl)("kpki kubeconfig create", () => {
  beforeAll(async () => {
    // --only: the kubernetes and etcd CAs, without making the whole set.
    const result = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--node-name", "cp-1", "--only", "apiserver", "--only", "etcd-healthcheck-client"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });

  describe("for jane in devs", () => {
    const file = newFile("jane.conf");
    const certFile = path.join(out, "jane.crt");
    const keyFile = path.join(out, "jane.key");
    let stdout = "";

    beforeAll(async () => {
      const result = await create("--user", "jane", "--group", "devs", "--server", "https://192.0.2.10:6443", "--out", file);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      stdout = result.stdout;
      const config = load(file);
      writeFileSync(certFile, pem(config.users[0]!.user["client-certificate-data"]));
      writeFileSync(keyFile, pem(config.users[0]!.user["client-key-data"]));
    });

    it("writes the file with mode 0600 and says what it wrote", () => {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(stdout).toMatch(new RegExp(`^wrote ${file.replace(/[.]/g, "\\.")}: user jane in devs, server https://192\\.0\\.2\\.10:6443, expires \\d{4}-\\d\\d-\\d\\d\\n$`));
    });

    it.skipIf(!hasKubectl)("kubectl config view --minify --flatten shows jane, jane@kubernetes and the server", async () => {
      const view = await kubectl(["config", "view", "--minify", "--flatten", "--kubeconfig", file, "-o", "json"]);
      expect(view.exitCode, view.stderr).toBe(0);
      const config = JSON.parse(view.stdout) as Kubeconfig;
      expect(config["current-context"]).toBe("jane@kubernetes");
      expect(config.contexts).toEqual([{ name: "jane@kubernetes", context: { cluster: "kubernetes", user: "jane" } }]);
      expect(config.users.map((user) => user.name)).toEqual(["jane"]);
      expect(config.clusters).toHaveLength(1);
      expect(config.clusters[0]!.name).toBe("kubernetes");
      expect(config.clusters[0]!.cluster.server).toBe("https://192.0.2.10:6443");
      // kubectl carries the embedded data through unchanged.
      expect(pem(config.clusters[0]!.cluster["certificate-authority-data"])).toBe(readFileSync(path.join(pki, "ca.crt"), "utf8"));
      expect(pem(config.users[0]!.user["client-certificate-data"])).toBe(readFileSync(certFile, "utf8"));
    });

    it("embeds a client certificate for CN jane, O devs, clientAuth, signed by ca.crt", async () => {
      const text = (await openssl(["x509", "-in", certFile, "-noout", "-text"])).stdout;
      expect(text).toContain("Subject: O = devs, CN = jane");
      expect(text).toContain("Issuer: CN = kubernetes");
      expect(text).toMatch(/X509v3 Extended Key Usage: *\n\s*TLS Web Client Authentication\n/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s*CA:FALSE/);
      expect(text).not.toContain("Subject Alternative Name");
      const verified = await openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", path.join(pki, "ca.crt"), certFile]);
      expect(verified.stdout).toContain("jane.crt: OK");
      const asServer = await openssl(["verify", "-purpose", "sslserver", "-CAfile", path.join(pki, "ca.crt"), certFile]);
      expect(asServer.exitCode).not.toBe(0);
      // The key is the certificate's, and the CA in the file is ca.crt.
      expect((await openssl(["pkey", "-in", keyFile, "-pubout"])).stdout).toBe((await openssl(["x509", "-in", certFile, "-noout", "-pubkey"])).stdout);
      expect(pem(load(file).clusters[0]!.cluster["certificate-authority-data"])).toBe(readFileSync(path.join(pki, "ca.crt"), "utf8"));
    });

    it("lasts 365 days by default", async () => {
      const { stdout: end } = await openssl(["x509", "-in", certFile, "-noout", "-enddate"]);
      expect(Math.round((Date.parse(end.replace("notAfter=", "")) - Date.now()) / 86_400_000)).toBe(365);
    });

    it("refuses to overwrite the file without --force (exit 3, unchanged), and replaces it with --force", async () => {
      const before = await snapshot(out);
      const refused = await create("--user", "john", "--server", "https://192.0.2.10:6443", "--out", file);
      expect(refused.exitCode).toBe(3);
      expect(refused.stdout).toBe("");
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
      expect(refused.stderr).toMatch(/exists.*--force/);
      expect(await snapshot(out)).toEqual(before);

      const copy = newFile("jane-again.conf");
      writeFileSync(copy, readFileSync(file), { mode: 0o600 });
      const forced = await create("--user", "john", "--server", "https://192.0.2.10:6443", "--out", copy, "--force");
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(load(copy).users[0]!.name).toBe("john");
      expect(statSync(copy).mode & 0o777).toBe(0o600);
    });
  });

  it("takes several groups, another CA, a cluster name, --days, -o json and an IPv6 server", async () => {
    const file = newFile("robot.conf");
    const result = await create("--user", "ci-robot", "--group", "deployers", "--group", "system:authenticated-robots", "--server", "https://api.example.com:8443",
      "--out", file, "--ca", "etcd-ca", "--cluster-name", "prod", "--days", "30", "-o", "json");
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toEqual({ file, user: "ci-robot", groups: ["deployers", "system:authenticated-robots"], server: "https://api.example.com:8443", notAfter: expect.any(String) });
    const config = load(file);
    expect(config["current-context"]).toBe("ci-robot@prod");
    expect(config.clusters[0]!.cluster.server).toBe("https://api.example.com:8443");
    const cert = path.join(out, "robot.crt");
    writeFileSync(cert, pem(config.users[0]!.user["client-certificate-data"]));
    const verified = await openssl(["verify", "-purpose", "sslclient", "-CAfile", path.join(pki, "etcd", "ca.crt"), cert]);
    expect(verified.stdout).toContain(": OK");
    expect((await openssl(["x509", "-in", cert, "-noout", "-subject"])).stdout.trim()).toBe("subject=O = deployers, O = system:authenticated-robots, CN = ci-robot");
    expect(Math.round((Date.parse(String(summary.notAfter)) - Date.now()) / 86_400_000)).toBe(30);

    // An IPv6 server.
    const v6 = newFile("ops.conf");
    const plain = await create("--user", "ops", "--server", "https://[2001:db8::10]:6443", "--out", v6);
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect(load(v6).clusters[0]!.cluster.server).toBe("https://[2001:db8::10]:6443");
  });

  describe("refuses a bad --server in one line, writing nothing", () => {
    it.each([
      ["http://192.0.2.10:6443", /must be an https URL/],
      ["https://", /must be an https URL/],
      ["https://:6443", /is empty/],
      ["https://192.0.2.10:99999", /port "99999" is not a number from 1 to 65535/],
      ["https://192.0.2.10:0", /port "0"/],
      ["https://192.0.2.10:6443/some/path", /must be an https URL/],
      ["192.0.2.10:6443", /must be an https URL/],
      ["https://bad host:6443", /white space/],
      ["https://256.1.1.1:6443", /not a valid IPv4 address/],
    ])("--server %s", async (server, message) => {
      const before = await snapshot(out);
      const file = newFile("bad.conf");
      const result = await create("--user", "jane", "--server", server, "--out", file);
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^kpki: --server/);
      expect(lines[0]).toMatch(message);
      expect(existsSync(file)).toBe(false);
      expect(await snapshot(out)).toEqual(before);
    });
  });

  it("refuses a missing --user or --server, a bad user name, and a PKI without its CA key, writing nothing", async () => {
    const before = await snapshot(out);
    const file = newFile("never.conf");
    const cases: [string[], RegExp, number][] = [
      [["--server", "https://192.0.2.10:6443", "--out", file], /--user/, 2],
      [["--user", "jane", "--out", file], /--server/, 2],
      [["--user", "", "--server", "https://192.0.2.10:6443", "--out", file], /--user is empty/, 2],
      [["--user", "jane", "--server", "https://192.0.2.10:6443", "--out", file, "--ca", "nope"], /Invalid values: .*ca/, 2],
      [["--user", "jane", "--server", "https://192.0.2.10:6443", "--out", file, "--days", "0"], /--days/, 2],
    ];
    for (const [args, message, code] of cases) {
      const result = await create(...args);
      expect(result.exitCode, args.join(" ")).toBe(code);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    const noCa = await runCli(["kubeconfig", "create", "--dir", path.join(root, "no-pki"), "--user", "jane", "--server", "https://192.0.2.10:6443", "--out", file]);
    expect(noCa.exitCode).not.toBe(0);
    expect(noCa.stderr.trim().split("\n")).toHaveLength(1);
    expect(noCa.stderr).toMatch(/no-pki\/pki\/ca\.crt is missing/);
    // ca.crt without ca.key: an externally managed CA kpki cannot sign with.
    const external = path.join(root, "external-pki");
    mkdirSync(path.join(external, "pki"), { recursive: true });
    writeFileSync(path.join(external, "pki", "ca.crt"), readFileSync(path.join(pki, "ca.crt")));
    const noKey = await runCli(["kubeconfig", "create", "--dir", external, "--user", "jane", "--server", "https://192.0.2.10:6443", "--out", file]);
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr.trim().split("\n")).toHaveLength(1);
    expect(noKey.stderr).toMatch(/ca\.key is missing.*externally managed/);
    // front-proxy-ca was not made by this --only init.
    const noFrontProxy = await create("--user", "jane", "--server", "https://192.0.2.10:6443", "--out", file, "--ca", "front-proxy-ca");
    expect(noFrontProxy.exitCode).not.toBe(0);
    expect(noFrontProxy.stderr).toMatch(/front-proxy-ca/);
    expect(existsSync(file)).toBe(false);
    expect(await snapshot(out)).toEqual(before);
  });
});
