// A smaller fuzz of the CLI's argv surface: random commands, flags and values
// (good, bad and hostile files among them), run in this process from a temp
// folder. Every run ends in exit 0, 2, 3, 4 or 5; a failure prints exactly
// one "kpki: " line (with -o json, one JSON object with the error and the
// exit code); no run prints a stack or "internal error". Commands that
// reach the network or SSH, or prompt, are left out (their parsing is fuzzed
// in parsers.test.ts). Fixed seed; KPKI_FUZZ_SCALE raises the count.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { aliasBomb, deepYaml, ecKeyLongScalar, truncatedCertificate } from "../support/hostile.js";
import { tempDir } from "../support/tmp.js";

delete process.env.KPKI_DEBUG;
const scale = Number(process.env.KPKI_FUZZ_SCALE ?? 1);
const work = tempDir("kpki-argv-fuzz-");
const cwd = process.cwd();

const COMMANDS = [
  ["init"],
  ["certs", "check-expiration"],
  ["certs", "renew"],
  ["cert", "csr"],
  ["cert", "sign"],
  ["cert", "inspect"],
  ["cert", "verify"],
  ["ca", "hash"],
  ["kubeconfig", "create"],
  ["token", "generate"],
  ["secret", "generate"],
  [],
  ["bogus"],
];
const FLAGS = [
  "--master-ip", "--dir", "--only", "--san", "--days", "--ca-days", "--key-type", "--node-name", "--service-cidr", "--control-plane-endpoint",
  "--dry-run", "--force", "--output", "-o", "--fail-within", "--name", "--cn", "--org", "--csr", "--profile", "--ca", "--host", "--key",
  "--purpose", "--user", "--group", "--server", "--out", "--ttl", "--usages", "--groups", "--description", "--manifest", "--length",
  "--charset", "--config", "--external-etcd", "--etcd-san", "--kubeconfig-dir", "--ca-cert", "--ca-key", "--help", "--version", "--bogus",
];

let files: Record<string, string> = {};
beforeAll(async () => {
  process.chdir(work);
  // The cluster folder is work itself: its PKI in work/pki (--dir pki is then a PKI folder, refused as --dir).
  const pki = path.join(work, "pki");
  const made = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", work, "--only", "apiserver", "--key-type", "ecdsa-p256"]);
  expect(made.exitCode, made.stderr).toBe(0);
  mkdirSync(path.join(work, "hostile"));
  const write = (name: string, data: string | Buffer) => {
    const file = path.join(work, "hostile", name);
    writeFileSync(file, data);
    return file;
  };
  files = {
    cluster: work,
    pki,
    ca: path.join(pki, "ca.crt"),
    caKey: path.join(pki, "ca.key"),
    cert: path.join(pki, "apiserver.crt"),
    csr: path.join(pki, "apiserver.csr"),
    damagedCert: write("damaged.crt", truncatedCertificate()),
    hostileKey: write("hostile.key", ecKeyLongScalar()),
    deepYaml: write("deep.yaml", deepYaml(3000)),
    aliasBomb: write("bomb.yaml", aliasBomb()),
    config: write("kpki.yaml", "masterIp: 192.0.2.10\nkeyType: ecdsa-p256\n"),
    aFile: write("plain.txt", "hello"),
  };
});
afterAll(() => process.chdir(cwd));

const value = () =>
  fc.oneof(
    fc.constantFrom("192.0.2.10", "::1", "300.1.1.1", "", "-", "0", "-1", "1.5", "abc", "365", "ecdsa-p256", "rsa-1024", "json", "text", "yaml"),
    fc.constantFrom("server", "client", "peer", "apiserver", "all", "nope", "admin.conf", "30d", "https://127.0.0.1:6443", "x_y", "a".repeat(300), "10.96.0.0/12", "lb:99999", "--"),
    fc.constantFrom("cluster", "pki", "missing", "hostile", "ca", "caKey", "cert", "csr", "damagedCert", "hostileKey", "deepYaml", "aliasBomb", "config", "aFile").map((name) => files[name] ?? path.join(work, name)),
    fc.string({ maxLength: 12 }),
  );

/** -o json / --output json anywhere: the error is then one JSON object on stderr, for scripts. */
const asksJson = (args: readonly string[]) =>
  args.some((arg, index) => /^(-o|--output)=json$/.test(arg) || ((arg === "-o" || arg === "--output") && args[index + 1] === "json"));

const argv = fc
  .tuple(fc.constantFrom(...COMMANDS), fc.array(fc.tuple(fc.constantFrom(...FLAGS), fc.option(value(), { nil: undefined })), { maxLength: 6 }), fc.array(value(), { maxLength: 2 }), fc.boolean())
  .map(([command, flags, positionals, fast]) => {
    const args = [...command, ...positionals, ...flags.flatMap(([flag, given]) => (given === undefined ? [flag] : [flag, given]))];
    // Keep key generation short: most runs of init use ECDSA or plan only.
    if (command[0] === "init" && fast) args.push("--key-type", "ecdsa-p256");
    return args;
  });

describe("fuzzing the CLI's argv (fixed seed)", { timeout: 600_000 * scale }, () => {
  it("every run exits 0, 2, 3, 4 or 5, a failure with one line, never a stack or an internal error", async () => {
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const result = await runCli(args, { stdin: "" });
        const context = `kpki ${args.map((arg) => JSON.stringify(arg)).join(" ")}\nexit ${result.exitCode}\nstderr: ${result.stderr}`;
        expect([0, 2, 3, 4, 5], context).toContain(result.exitCode);
        expect(result.stderr, context).not.toMatch(/internal error|^\s+at \S+ \(/im);
        if (result.exitCode === 0) return;
        if (!asksJson(args)) return void expect(result.stderr, context).toMatch(/^kpki: [^\n]+\n$/);
        expect(result.stderr, context).toMatch(/^\{[^\n]+\}\n$/);
        expect(JSON.parse(result.stderr), context).toEqual({ error: expect.stringMatching(/^[^\n]+$/), exitCode: result.exitCode });
      }),
      { seed: 1313, numRuns: Math.round(200 * scale), endOnFailure: true },
    );
  });
});
