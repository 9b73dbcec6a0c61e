// Every bad input gets one clear line on stderr ("kpki: ..."), a non-zero exit
// code that says what kind of failure it was, and leaves the disk untouched.
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { createSelfSignedCa, encodePrivateKeyPem, generateKeyPair } from "../../src/index.js";
import { binPath, runBin, runCli, type CliResult } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

// A developer's KPKI_DEBUG would add the stack on purpose; these tests check the user's view.
delete process.env.KPKI_DEBUG;

const EXIT = { usage: 2, input: 2, conflict: 3, verify: 4, io: 5 } as const;

const root = tempDir("kpki-bad-input-");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");
let caseCount = 0;

/** A fresh, empty folder for one case. */
function caseDir(name: string): string {
  const dir = path.join(root, `${String(++caseCount).padStart(3, "0")}-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Base64 pieces of every private key the tests made: none may ever be printed. */
const secrets: string[] = [];
function rememberKeys(dir: string) {
  for (const file of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".key")) continue;
    const text = readFileSync(path.join(dir, file), "utf8");
    const body = text.replace(/-----[^-]+-----|\s+/g, "");
    for (let i = 0; i + 24 <= body.length; i += 12) secrets.push(body.slice(i, i + 24));
  }
}

function expectNoSecrets(text: string) {
  expect(text).not.toContain("PRIVATE KEY");
  expect(text).not.toContain("-----BEGIN");
  // A long run of base64 mixing upper case, lower case and digits looks like key material.
  for (const run of text.match(/[A-Za-z0-9+/=]{40,}/g) ?? []) {
    expect(/[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run), `base64-like run in output: ${run}`).toBe(false);
  }
  for (const piece of secrets) expect(text.includes(piece), "output holds a piece of a private key").toBe(false);
}

interface Expectation {
  exitCode: number;
  /** What the line must say: what was wrong, and what to do. */
  says: RegExp[];
  /** Standard output may carry a report (cert verify prints its problems); otherwise it must be empty. */
  stdout?: "empty" | "any";
}

/** One line on stderr, starting "kpki: ", no stack, no internal error, the right code, nothing secret. */
function expectCleanFailure(result: CliResult, expected: Expectation) {
  const context = `stderr: ${JSON.stringify(result.stderr)}\nstdout: ${JSON.stringify(result.stdout.slice(0, 500))}`;
  expect(result.exitCode, context).toBe(expected.exitCode);
  expect(result.stderr, context).toMatch(/^kpki: [^\n]+\n?$/);
  expect(result.stderr.trim().split("\n"), context).toHaveLength(1);
  expect(result.stderr, context).not.toMatch(/^\s*at /m);
  expect(result.stderr, context).not.toMatch(/internal error/i);
  // Raw Node errors ("ENOENT: no such file or directory, mkdir ...") are not messages for users.
  expect(result.stderr, context).not.toMatch(/\bE[A-Z]{3,}\b:/);
  expect(result.stderr, context).not.toMatch(/\bundefined\b|\bNaN\b|\[object /);
  for (const pattern of expected.says) expect(result.stderr, context).toMatch(pattern);
  if ((expected.stdout ?? "empty") === "empty") expect(result.stdout, context).toBe("");
  expectNoSecrets(result.stderr);
  expectNoSecrets(result.stdout);
}

/** Runs a command that must fail, and checks that nothing under `watch` changed. */
async function refuses(watch: string, args: readonly string[], expected: Expectation): Promise<CliResult> {
  const before = await snapshot(watch);
  const result = await runCli(args);
  expectCleanFailure(result, expected);
  expect(await snapshot(watch), `files under ${watch} changed`).toEqual(before);
  return result;
}

/**
 * The CA + API server cases: each init makes (or checks) just ca and
 * apiserver, two keys instead of the full set's sixteen, and writes no
 * kubeconfigs into the shared root.
 */
const ONLY = ["--only", "apiserver"];

/** A valid PKI made by `kpki init`, to break in one way per case. */
// Each a cluster folder's pki/ (--dir names the cluster folder that holds it).
const pristine = path.join(root, "pristine", "pki");
const other = path.join(root, "other", "pki");

beforeAll(async () => {
  for (const dir of [pristine, other]) {
    const made = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), ...ONLY]);
    expect(made.stderr).toBe("");
    expect(made.exitCode).toBe(0);
    rememberKeys(dir);
  }
});

/** A copy of the pristine PKI in its own folder. */
function copyOfPki(name: string): string {
  const dir = path.join(caseDir(name), "pki");
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

describe("init refuses bad values before touching the disk", () => {
  const init = (...args: string[]) => {
    const work = caseDir(args.join(" "));
    return { work, args: ["init", "--dir", work, ...args] };
  };
  const cases: [string, string[], RegExp[]][] = [
    ["missing --master-ip", [], [/master-ip/, /--master-ip 192\.0\.2\.10/]],
    ["--master-ip 300.1.1.1", ["--master-ip", "300.1.1.1"], [/--master-ip "300\.1\.1\.1" is not a valid IPv4 or IPv6 address/, /e\.g\. 192\.0\.2\.10/]],
    ["--master-ip 1.2.3", ["--master-ip", "1.2.3"], [/--master-ip "1\.2\.3" is not a valid/]],
    ["--master-ip ::zz", ["--master-ip", "::zz"], [/--master-ip "::zz" is not a valid/]],
    ["--master-ip abc", ["--master-ip", "abc"], [/--master-ip "abc" is not a valid/]],
    ["--master-ip 0.0.0.0", ["--master-ip", "0.0.0.0"], [/--master-ip 0\.0\.0\.0 is the unspecified address/, /give the control-plane node's own address/]],
    ["--master-ip ::", ["--master-ip", "::"], [/--master-ip :: is the unspecified address/]],
    ["--master-ip 0:0::0", ["--master-ip", "0:0::0"], [/--master-ip :: is the unspecified address/]],
    ["--master-ip 224.0.0.1", ["--master-ip", "224.0.0.1"], [/--master-ip 224\.0\.0\.1 is a multicast address/]],
    ["--master-ip 239.255.255.250", ["--master-ip", "239.255.255.250"], [/is a multicast address/]],
    ["--master-ip ff02::1", ["--master-ip", "ff02::1"], [/--master-ip ff02::1 is a multicast address/]],
    ["--master-ip 255.255.255.255", ["--master-ip", "255.255.255.255"], [/--master-ip 255\.255\.255\.255 is the broadcast address/]],
    ["--service-cidr with three subnets", ["--master-ip", "192.0.2.10", "--service-cidr", "10.96.0.0/12,fd00::/108,10.0.0.0/16"], [/has 3 subnets: give one, or two/]],
    ["--service-cidr with two IPv4 subnets", ["--master-ip", "192.0.2.10", "--service-cidr", "10.96.0.0/12,10.0.0.0/16"], [/a dual-stack pair needs one IPv4 and one IPv6 subnet/]],
    ["--service-cidr without a prefix", ["--master-ip", "192.0.2.10", "--service-cidr", "10.96.0.0"], [/--service-cidr "10\.96\.0\.0" is not a CIDR/, /such as 10\.96\.0\.0\/12/]],
    ["--service-cidr /33", ["--master-ip", "192.0.2.10", "--service-cidr", "10.96.0.0/33"], [/--service-cidr "10\.96\.0\.0\/33"/, /at most 32/]],
    ["--service-cidr foo/12", ["--master-ip", "192.0.2.10", "--service-cidr", "foo/12"], [/--service-cidr "foo\/12" is not a CIDR/]],
    ["--san with a space", ["--master-ip", "192.0.2.10", "--san", "has space"], [/--san "has space" is neither an IP address nor a valid DNS name/, /white space/]],
    ["--san with an underscore", ["--master-ip", "192.0.2.10", "--san", "under_score"], [/--san "under_score"/, /"_"/]],
    ["--san with a 64-character label", ["--master-ip", "192.0.2.10", "--san", `${"a".repeat(64)}.example.com`], [/--san "a{64}\.example\.com"/, /64 characters long \(63 at most\)/]],
    ["--san of 254 characters", ["--master-ip", "192.0.2.10", "--san", `${"abcdefghi.".repeat(25)}abcd`], [/--san "(abcdefghi\.){25}abcd"/, /254 characters long \(253 at most\)/]],
    ["--days 0", ["--master-ip", "192.0.2.10", "--days", "0"], [/--days 0 is not a whole number of days of at least 1/]],
    ["--days -1", ["--master-ip", "192.0.2.10", "--days", "-1"], [/--days -1 is not a whole number of days of at least 1/]],
    ["--days 1.5", ["--master-ip", "192.0.2.10", "--days", "1.5"], [/--days 1\.5 is not a whole number of days of at least 1/]],
    ["--days abc", ["--master-ip", "192.0.2.10", "--days", "abc"], [/--days takes a whole number of days of at least 1, e\.g\. --days 365/]],
    ["--ca-days 0", ["--master-ip", "192.0.2.10", "--ca-days", "0"], [/--ca-days 0 is not a whole number of days of at least 1/]],
    ["--key-type rsa-1024", ["--master-ip", "192.0.2.10", "--key-type", "rsa-1024"], [/key-type/, /"rsa-1024"/, /rsa-2048/, /see kpki init --help/]],
    ["--keygen go", ["--master-ip", "192.0.2.10", "--keygen", "go"], [/keygen/, /"go"/, /primes/, /openssl/, /see kpki init --help/]],
    ["--apiserver-port abc", ["--master-ip", "192.0.2.10", "--apiserver-port", "abc"], [/--apiserver-port takes a port number from 1 to 65535, e\.g\. --apiserver-port 6443/]],
    ["--apiserver-port 65536", ["--master-ip", "192.0.2.10", "--apiserver-port", "65536"], [/--apiserver-port: port "65536" is not a number from 1 to 65535/]],
    ["--etcd-san with an underscore", ["--master-ip", "192.0.2.10", "--etcd-san", "under_score"], [/--etcd-san "under_score" is neither an IP address nor a valid DNS name/]],
    ["--output yaml", ["--master-ip", "192.0.2.10", "--output", "yaml"], [/output/, /"yaml"/, /json/, /see kpki init --help/]],
    ["an unknown option", ["--master-ip", "192.0.2.10", "--bogus"], [/Unknown argument: bogus/, /see kpki init --help/]],
    // `--san "$LB"` with LB unset, or a flag left without its value: refused, never quietly dropped.
    ["an empty --san", ["--master-ip", "192.0.2.10", "--san", ""], [/--san has no value: give one, or leave --san out\n$/]],
    ["--san with no value", ["--master-ip", "192.0.2.10", "--san", "--node-name", "cp-1"], [/--san has no value/]],
    ["-o with no value", ["--master-ip", "192.0.2.10", "-o"], [/--output has no value: give --output json or --output text\n$/]],
    ["an empty --cert-dir", ["--master-ip", "192.0.2.10", "--cert-dir", ""], [/--cert-dir is empty: give a folder \(or leave --cert-dir out\)\n$/]],
    // yargs names a --kebab-flag twice (extra-thing, extraThing): once here.
    ["two unknown options, one with a dash", ["--master-ip", "192.0.2.10", "--bogus", "--extra-thing"], [/Unknown arguments: bogus, extra-thing \(see kpki init --help\)\n$/]],
  ];
  it("takes an empty --groups for what kubeadm means by it: no extra groups", async () => {
    const result = await runCli(["token", "generate", "--groups", ""]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}\n$/);
  });
  it.each(cases)("%s: exit 2, one line, no folder made", async (_name, args, says) => {
    const { work, args: argv } = init(...args);
    await refuses(work, argv, { exitCode: EXIT.usage, says });
    expect(readdirSync(work)).toEqual([]);
  });
});

describe("usage errors: one line, exit 2", () => {
  const cases: [string, string[], RegExp[]][] = [
    ["no command", [], [/give a command: kpki init, certs, cert, ca, kubeconfig, node, token, discovery, sa or secret/]],
    ["an unknown command", ["frobnicate"], [/Unknown argument: frobnicate/, /see kpki --help/]],
    // An unknown flag before the command swallows it as its value; what is left has no command.
    ["an unknown option before the command", ["--frobnicate", "init"], [/give a command/, /see kpki --help/]],
    ["cert without a subcommand", ["cert"], [/give a cert command: csr, sign, inspect, verify/]],
    ["an unknown cert subcommand", ["cert", "frob"], [/Unknown argument: frob/, /see kpki cert --help/]],
    ["ca without a subcommand", ["ca"], [/give a ca command: hash/]],
    ["an unknown ca subcommand", ["ca", "frob"], [/Unknown argument: frob/]],
    ["cert csr without --cn", ["cert", "csr", "--name", "x"], [/Missing required argument: cn/, /give --cn/]],
    ["cert sign without --profile", ["cert", "sign", "--csr", "x.csr"], [/Missing required argument: profile/, /give --profile server, client or peer/]],
    ["cert sign with an unknown profile", ["cert", "sign", "--csr", "x.csr", "--profile", "ca"], [/profile/, /"ca"/, /server/]],
    ["cert verify without --ca", ["cert", "verify", "x.crt"], [/Missing required argument: ca/, /give --ca FILE/]],
    ["cert csr --key-type rsa-1024", ["cert", "csr", "--name", "x", "--cn", "x", "--key-type", "rsa-1024"], [/key-type/, /"rsa-1024"/]],
    ["cert csr --keygen fips", ["cert", "csr", "--name", "x", "--cn", "x", "--keygen", "fips"], [/keygen/, /"fips"/, /primes/]],
  ];
  it.each(cases)("%s", async (_name, args, says) => {
    const work = caseDir(args.join(" ") || "none");
    await refuses(work, [...args, ...(args[0] === "cert" && args[1] === "csr" ? ["--dir", work] : [])], { exitCode: EXIT.usage, says });
    expect(readdirSync(work)).toEqual([]);
  });

  it("says --help only once", async () => {
    const result = await runCli([]);
    expect(result.stderr.match(/kpki --help/g)).toHaveLength(1);
  });
});

describe("init refuses a CA it cannot trust, and never replaces it (even with --force)", () => {
  const breakages: [string, (dir: string) => void | Promise<void>, RegExp[]][] = [
    ["garbage ca.key", (dir) => writeFileSync(path.join(dir, "ca.key"), "this is not a key\n"), [/ca\.key is not a readable private key/, /give an unencrypted PEM key/]],
    [
      "a damaged PEM ca.key",
      (dir) => writeFileSync(path.join(dir, "ca.key"), "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"),
      [/ca\.key is not a readable private key/],
    ],
    ["a ca.key from another PKI", (dir) => cpSync(path.join(other, "ca.key"), path.join(dir, "ca.key")), [/ca\.key does not belong to \S*ca\.crt/, /restore the matching pair/, /never replaces a CA key/]],
    ["a ca.crt that is not a CA", (dir) => cpSync(path.join(dir, "apiserver.crt"), path.join(dir, "ca.crt")), [/ca\.crt is not a CA certificate \(no CA:TRUE\)/, /restore the real CA certificate/]],
    ["ca.key without ca.crt", (dir) => rmSync(path.join(dir, "ca.crt")), [/ca\.key exists but \S*ca\.crt is missing/, /restore the CA certificate/, /never replaces a CA key/]],
    ["garbage ca.crt", (dir) => writeFileSync(path.join(dir, "ca.crt"), "not a certificate\n"), [/ca\.crt is not a PEM or DER certificate/]],
  ];
  describe.each([[[] as string[]], [["--force"]]])("init %j", (extra) => {
    it.each(breakages)("%s: exit 2, nothing changed", async (name, breakIt, says) => {
      const dir = copyOfPki(name);
      await breakIt(dir);
      await refuses(path.dirname(dir), ["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), ...ONLY, ...extra], { exitCode: EXIT.input, says });
    });

    it("an expired CA: says it expired and that kpki never replaces a CA", async () => {
      const dir = path.join(caseDir("expired"), "pki");
      await writeExpiredCa(dir);
      await refuses(path.dirname(dir), ["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), ...ONLY, ...extra], {
        exitCode: EXIT.input,
        says: [/ca\.crt expired on 2020-01-02/, /kpki never replaces a CA/, /move \S+ aside and run init again/],
      });
    });
  });

  it("a leaf that no longer fits is a conflict (exit 3) that names --force", async () => {
    const dir = copyOfPki("stale-leaf");
    await refuses(path.dirname(dir), ["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), ...ONLY, "--san", "api.example.com"], {
      exitCode: EXIT.conflict,
      says: [/apiserver: it lacks DNS:api\.example\.com/, /--force/],
    });
  });
});

/** A CA that expired in 2020, made with the library (OpenSSL 3.0's x509 cannot backdate). */
async function writeExpiredCa(dir: string) {
  mkdirSync(dir, { recursive: true });
  const key = await generateKeyPair("ecdsa-p256");
  const { cert } = await createSelfSignedCa(key, { commonName: "kubernetes", organizations: [] }, { dns: ["kubernetes"], ips: [] }, {
    days: 1,
    now: new Date("2020-01-01T00:00:00Z"),
  });
  writeFileSync(path.join(dir, "ca.key"), encodePrivateKeyPem(key), { mode: 0o600 });
  writeFileSync(path.join(dir, "ca.crt"), cert.pem, { mode: 0o644 });
  rememberKeys(dir);
}

describe.skipIf(!hasOpenssl)("cert sign refuses what it must not sign", () => {
  let csrs: string;
  beforeAll(async () => {
    csrs = path.join(root, "csrs");
    mkdirSync(csrs);
    const good = await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(csrs, "w.key"), "-out", path.join(csrs, "w.csr"), "-subj", "/CN=worker-1"]);
    expect(good.exitCode, good.stderr).toBe(0);
    const ca = await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(csrs, "c.key"), "-out", path.join(csrs, "c.csr"),
      "-subj", "/CN=sub-ca", "-addext", "basicConstraints=critical,CA:TRUE"]);
    expect(ca.exitCode, ca.stderr).toBe(0);
    // Flip bits in the signature: the request no longer verifies.
    const der = Buffer.from(readFileSync(path.join(csrs, "w.csr"), "utf8").replace(/-----[^-]+-----|\s+/g, ""), "base64");
    der[der.length - 10]! ^= 0xff;
    writeFileSync(path.join(csrs, "broken.csr"), `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE REQUEST-----\n`);
    writeFileSync(path.join(csrs, "garbage.csr"), "hello, I am not a CSR\n");
    rememberKeys(csrs);
  });

  const sign = async (name: string, csr: string, extra: string[], expected: Expectation, pki = () => copyOfPki(name)) => {
    const dir = pki();
    const work = path.dirname(dir);
    await refuses(work, ["cert", "sign", "--csr", path.join(csrs, csr), "--profile", "server", "--dir", work, "--out", path.join(work, "out.crt"), ...extra], expected);
  };

  it("a CSR whose signature is broken", () =>
    sign("broken", "broken.csr", [], { exitCode: EXIT.input, says: [/broken\.csr: the request's signature does not verify/, /make a new CSR/] }));
  it("a CSR asking for CA:TRUE", () =>
    sign("ca-true", "c.csr", [], { exitCode: EXIT.input, says: [/asks for basicConstraints CA:TRUE/, /make a request without it/] }));
  it("a file that is not a CSR", () =>
    sign("garbage", "garbage.csr", [], { exitCode: EXIT.input, says: [/garbage\.csr is not a PEM or DER certificate request/, /give the CSR file/] }));
  it("a private key given as the CSR (named without echoing it)", () =>
    sign("key-as-csr", "w.key", [], { exitCode: EXIT.input, says: [/w\.key holds a private key, not a certificate request/, /give the CSR file/] }));
  it("a missing CSR file", () =>
    sign("missing", "nope.csr", [], { exitCode: EXIT.input, says: [/cannot read \S*nope\.csr: no such file/] }));
  it("a CA key that does not match the CA certificate", () =>
    sign("mismatch", "w.csr", ["--ca-key", path.join(other, "ca.key")], { exitCode: EXIT.input, says: [/ca\.key does not belong to \S*ca\.crt/, /give the matching CA key/] }));
  it("a missing CA key", () =>
    sign("no-ca-key", "w.csr", ["--ca-key", path.join(root, "nope.key")], { exitCode: EXIT.input, says: [/\S*nope\.key is missing/, /ca\.crt is an externally managed CA/, /sign at that CA/] }));
  it("a CA certificate that is not a CA", async () => {
    const dir = copyOfPki("not-ca");
    await sign("not-ca", "w.csr", ["--ca-cert", path.join(dir, "apiserver.crt"), "--ca-key", path.join(dir, "apiserver.key")],
      { exitCode: EXIT.input, says: [/apiserver\.crt is not a CA certificate/] }, () => dir);
  });
  it("an expired CA", async () => {
    const dir = path.join(caseDir("sign-expired"), "pki");
    await writeExpiredCa(dir);
    await sign("sign-expired", "w.csr", [], { exitCode: EXIT.input, says: [/ca\.crt expired on 2020-01-02/, /can no longer sign/] }, () => dir);
  });
  it("--days 0", () => sign("days", "w.csr", ["--days", "0"], { exitCode: EXIT.usage, says: [/--days 0 is not a whole number of days/] }));
  it("--out below a file (exit 5)", async () => {
    const dir = copyOfPki("out-under-file");
    const blocker = path.join(path.dirname(dir), "blocker");
    writeFileSync(blocker, "a file\n");
    await refuses(path.dirname(dir), ["cert", "sign", "--csr", path.join(csrs, "w.csr"), "--profile", "server", "--dir", path.dirname(dir), "--out", path.join(blocker, "out.crt")],
      { exitCode: EXIT.io, says: [/blocker: a part of the path is a file, not a folder/] });
  });
});

describe("cert csr, inspect and verify", () => {
  it("cert csr refuses to overwrite an existing key without --force (exit 3, key unchanged)", async () => {
    const work = caseDir("csr-exists");
    writeFileSync(path.join(work, "node.key"), "the user's precious key\n", { mode: 0o600 });
    await refuses(work, ["cert", "csr", "--name", "node", "--cn", "system:node:n1", "--dir", work], {
      exitCode: EXIT.conflict,
      says: [/node\.key exists: kpki never overwrites a key/, /use --force to replace it, or choose another --name/],
    });
    expect(readFileSync(path.join(work, "node.key"), "utf8")).toBe("the user's precious key\n");
  });

  it("cert csr refuses a bad --san and a --name with a path, and makes no folder", async () => {
    const work = caseDir("csr-values");
    await refuses(work, ["cert", "csr", "--name", "x", "--cn", "x", "--san", "under_score", "--dir", path.join(work, "out")], {
      exitCode: EXIT.input,
      says: [/--san "under_score" is neither an IP address nor a valid DNS name/],
    });
    await refuses(work, ["cert", "csr", "--name", "../x", "--cn", "x", "--dir", path.join(work, "out")], {
      exitCode: EXIT.usage,
      says: [/--name "\.\.\/x" must be a plain file name/],
    });
    expect(readdirSync(work)).toEqual([]);
  });

  it("cert inspect of a garbage file, a damaged key and a missing file", async () => {
    const work = caseDir("inspect");
    writeFileSync(path.join(work, "garbage.pem"), "\x00\x01 not PEM at all\n");
    writeFileSync(path.join(work, "damaged.key"), "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBfakefakefakefakefakefakefakefakefakefakefakeoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n");
    await refuses(work, ["cert", "inspect", path.join(work, "garbage.pem")], {
      exitCode: EXIT.input,
      says: [/garbage\.pem holds no PEM block/, /give a certificate, CSR or key file/],
    });
    await refuses(work, ["cert", "inspect", path.join(work, "damaged.key")], {
      exitCode: EXIT.input,
      says: [/damaged\.key: the SEC1 private key in it is damaged and cannot be read/],
    });
    await refuses(work, ["cert", "inspect", path.join(work, "nope.pem")], { exitCode: EXIT.input, says: [/cannot read \S*nope\.pem: no such file/] });
    // A kubeconfig with no current context: the way out this command has (it takes no --context).
    writeFileSync(path.join(work, "no-context.conf"), "apiVersion: v1\nkind: Config\ncurrent-context: \"\"\ncontexts: []\nclusters: []\nusers: []\n");
    const result = await refuses(work, ["cert", "inspect", path.join(work, "no-context.conf")], {
      exitCode: EXIT.input,
      says: [/no-context\.conf has no current-context: set one \(kubectl config use-context NAME\)\n$/],
    });
    expect(result.stderr).not.toContain("--context");
  });

  it("cert verify against the wrong CA: exit 4, the problem named", async () => {
    const result = await refuses(root, ["cert", "verify", path.join(pristine, "apiserver.crt"), "--ca", path.join(other, "ca.crt")], {
      exitCode: EXIT.verify,
      says: [/apiserver\.crt does not verify: not-issued-by-ca$/m],
      stdout: "any",
    });
    expect(result.stdout).toMatch(/FAILED\n\s+not-issued-by-ca: issued by another CA also named "CN=kubernetes"/);
  });

  it("cert verify with the wrong key, host and purpose names each problem and prints no key", async () => {
    const result = await refuses(root, ["cert", "verify", path.join(pristine, "apiserver.crt"), "--ca", path.join(pristine, "ca.crt"),
      "--key", path.join(other, "apiserver.key"), "--host", "evil.example.com"], {
      exitCode: EXIT.verify,
      says: [/does not verify: host-mismatch, key-mismatch$/m],
      stdout: "any",
    });
    expect(result.stdout).toContain("host-mismatch: does not cover evil.example.com");
    expect(result.stdout).toContain("key-mismatch: the private key does not belong to this certificate");
  });

  it("cert verify with a CA file that is not a certificate: exit 2", async () => {
    const work = caseDir("verify-garbage-ca");
    writeFileSync(path.join(work, "ca.crt"), "nope\n");
    await refuses(work, ["cert", "verify", path.join(pristine, "apiserver.crt"), "--ca", path.join(work, "ca.crt")], {
      exitCode: EXIT.input,
      says: [/ca\.crt is not a PEM or DER certificate/],
    });
  });

  it("cert verify given a key as the CA names it without echoing it", async () => {
    await refuses(root, ["cert", "verify", path.join(pristine, "apiserver.crt"), "--ca", path.join(pristine, "ca.key")], {
      exitCode: EXIT.input,
      says: [/ca\.key holds a private key, not a certificate/],
    });
  });
});

describe("--dir the file system refuses (exit 5)", () => {
  it("--dir that is a file", async () => {
    const work = caseDir("dir-is-file");
    writeFileSync(path.join(work, "pki"), "a file\n");
    await refuses(work, ["init", "--master-ip", "192.0.2.10", "--dir", work], {
      exitCode: EXIT.io,
      says: [/--dir \S*pki is a file, not a folder: choose a folder\n$/],
    });
    // The flag that named the folder, in the message.
    await refuses(work, ["init", "--master-ip", "192.0.2.10", "--dir", path.join(work, "cluster"), "--cert-dir", path.join(work, "pki")], {
      exitCode: EXIT.io,
      says: [/--cert-dir \S*pki is a file, not a folder: choose a folder\n$/],
    });
    await refuses(work, ["init", "--master-ip", "192.0.2.10", "--dir", path.join(work, "pki", "sub")], {
      exitCode: EXIT.io,
      says: [/pki\/sub\/pki: a part of the path is a file, not a folder: choose another --dir/],
    });
    await refuses(work, ["cert", "csr", "--name", "x", "--cn", "x", "--dir", path.join(work, "pki")], {
      exitCode: EXIT.io,
      says: [/is a file, not a folder/],
    });
  });

  describe("--dir on a read-only location", () => {
    // Root ignores permission bits, so a read-only bind mount in a private mount namespace stands in.
    let mode: "unshare" | "chmod" | "skip" = "skip";
    let reason = "";
    const ro = path.join(root, "read-only");
    beforeAll(async () => {
      mkdirSync(ro);
      const probe = await execa("unshare", ["--mount", "--propagation", "private", "sh", "-c",
        `mount --bind '${ro}' '${ro}' && mount -o remount,bind,ro '${ro}' && ! touch '${ro}/probe' 2>/dev/null`], { reject: false });
      if (probe.exitCode === 0) mode = "unshare";
      else if (process.getuid?.() !== 0) mode = "chmod";
      else {
        reason = `running as root and unshare --mount is not permitted here (${String(probe.stderr).trim() || `exit ${probe.exitCode}`})`;
        if (process.env.CI) throw new Error(`cannot make a read-only folder in CI: ${reason}`);
        console.warn(`skipping read-only --dir checks: ${reason}`);
      }
      const version = await runBin(["--version"]);
      expect(version.exitCode, `the built bin does not run (npm run build first): ${version.stderr}`).toBe(0);
    });

    /** Runs the built bin with `ro` read-only. */
    async function runReadOnly(args: readonly string[]): Promise<CliResult> {
      if (mode === "unshare") {
        const quoted = args.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(" ");
        const result = await execa("unshare", ["--mount", "--propagation", "private", "sh", "-c",
          `mount --bind '${ro}' '${ro}' && mount -o remount,bind,ro '${ro}' && exec '${binPath}' ${quoted}`], { reject: false });
        return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
      }
      const folders = [ro, ...readdirSync(ro, { recursive: true, withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name))];
      folders.forEach((folder) => chmodSync(folder, 0o555));
      try {
        return await runBin(args);
      } finally {
        folders.forEach((folder) => chmodSync(folder, 0o755));
      }
    }

    const says = () => (mode === "unshare" ? [/read-only file system/, /choose another --dir/] : [/permission denied/, /choose another --dir/]);

    async function refusesReadOnly(args: readonly string[], extra: RegExp[] = []) {
      if (mode === "skip") return console.warn(`skipped: ${reason}`);
      const before = await snapshot(ro);
      const result = await runReadOnly(args);
      expectCleanFailure(result, { exitCode: EXIT.io, says: [...says(), ...extra] });
      expect(await snapshot(ro)).toEqual(before);
    }

    it("init into a new folder there", () => refusesReadOnly(["init", "--master-ip", "192.0.2.10", "--dir", path.join(ro, "cluster")], [/read-only\/cluster/]));
    it("init into a new nested folder there (Node reports ENOENT for recursive mkdir on EROFS)", () =>
      refusesReadOnly(["init", "--master-ip", "192.0.2.10", "--dir", path.join(ro, "new", "deeper"), ...ONLY]));
    it("init --force that must re-issue in an existing PKI there", async () => {
      cpSync(pristine, path.join(ro, "existing", "pki"), { recursive: true });
      await refusesReadOnly(["init", "--master-ip", "192.0.2.10", "--dir", path.join(ro, "existing"), ...ONLY, "--san", "api.example.com", "--force"]);
    });
    it("cert csr there", () => refusesReadOnly(["cert", "csr", "--name", "n1", "--cn", "system:node:n1", "--dir", ro]));
    it("but checks a valid PKI there that needs no change, and dry-runs one that does", async () => {
      if (mode === "skip") return console.warn(`skipped: ${reason}`);
      cpSync(pristine, path.join(ro, "valid", "pki"), { recursive: true });
      const before = await snapshot(ro);
      const check = await runReadOnly(["init", "--master-ip", "192.0.2.10", "--dir", path.join(ro, "valid"), ...ONLY]);
      expect(check.stderr).toBe("");
      expect(check.exitCode).toBe(0);
      expect(check.stdout).toContain("Nothing changed");
      const plan = await runReadOnly(["init", "--master-ip", "192.0.2.10", "--dir", path.join(ro, "valid"), ...ONLY, "--san", "api.example.com", "--force", "--dry-run"]);
      expect(plan.stderr).toBe("");
      expect(plan.exitCode).toBe(0);
      expect(plan.stdout).toMatch(/would be reissued\s+apiserver/);
      expect(await snapshot(ro)).toEqual(before);
    });
  });
});

describe("the built bin behaves the same as a process", () => {
  beforeAll(async () => {
    const version = await runBin(["--version"]);
    expect(version.exitCode, `the built bin does not run (npm run build first): ${version.stderr}`).toBe(0);
  });

  it("an unknown option: one usage line, exit 2, and init does not run", async () => {
    const work = caseDir("bin-unknown-option");
    const before = await snapshot(work);
    const result = await runBin(["init", "--master-ip", "192.0.2.10", "--dir", work, "--bogus"]);
    expectCleanFailure(result, { exitCode: EXIT.usage, says: [/Unknown argument: bogus/] });
    expect(await snapshot(work)).toEqual(before);
  });

  it("a garbage CA key: one line, exit 2, no stack", async () => {
    const dir = copyOfPki("bin-garbage-key");
    writeFileSync(path.join(dir, "ca.key"), "junk\n");
    const before = await snapshot(dir);
    const result = await runBin(["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), ...ONLY]);
    expectCleanFailure(result, { exitCode: EXIT.input, says: [/ca\.key is not a readable private key/] });
    expect(await snapshot(dir)).toEqual(before);
  });
});
