// Property-based fuzzing of what kpki reads from servers and hosts rather
// than files: cluster-info and its JWS (through verifyDiscovery against a
// local HTTPS server), bootstrap-token Secrets, the node script's report
// lines (KPKI/KPKIFACT) judged by the preflight, and the fleet certificate
// collection's output. Whatever arrives, each one returns a result or throws
// kpki's own one-line error (KpkiError), never anything else. Same seed and
// KPKI_FUZZ_SCALE as parsers.test.ts; each failure class it found is a
// regression test at the end of this file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KpkiError } from "../../src/errors.js";
import { createSelfSignedCa, generateKeyPair } from "../../src/index.js";
import { encodePrivateKeyPem } from "../../src/pki/keys.js";
import { detachedJws, detachedJwsValid } from "../../src/bootstrap/api/jws.js";
import { verifyDiscovery } from "../../src/bootstrap/api/discovery.js";
import { parseToken, tokenFromSecret } from "../../src/bootstrap/api/token.js";
import { parseNodeOutput } from "../../src/bootstrap/node/steps.js";
import { evaluatePreflight } from "../../src/bootstrap/node/preflight.js";
import { resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";
import { hostCertificates, parseCollected } from "../../src/bootstrap/node/fleetexpiry.js";
import { repoRoot, runCli } from "../support/cli.js";

const SEED = 1313;
const scale = Number(process.env.KPKI_FUZZ_SCALE ?? 1);
const runs = (count: number) => ({ seed: SEED, numRuns: Math.round(count * scale), endOnFailure: true });

/** It may succeed or throw KpkiError with a one-line message; anything else fails the property. */
async function guarded(name: string, parse: () => unknown): Promise<unknown> {
  try {
    return await parse();
  } catch (error) {
    if (!(error instanceof KpkiError)) throw new Error(`${name} threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    expect(error.message, name).not.toContain("\n");
    return undefined;
  }
}

/** Character-level edits of a text: overwrite, insert, delete, truncate. */
const textEdits = fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom("set", "insert", "delete", "truncate"), char: fc.oneof(fc.constantFrom("\t", "\n", '"', ",", ":", "{", "}", "[", "]", "\\", "=", "."), fc.string({ maxLength: 3 })) }), { minLength: 1, maxLength: 4 });
function editText(text: string, changes: { at: number; kind: string; char: string }[]): string {
  for (const { at, kind, char } of changes) {
    const i = text.length === 0 ? 0 : at % text.length;
    if (kind === "set") text = text.slice(0, i) + char + text.slice(i + 1);
    else if (kind === "insert") text = text.slice(0, i) + char + text.slice(i);
    else if (kind === "delete") text = text.slice(0, i) + text.slice(i + 1);
    else text = text.slice(0, i);
  }
  return text;
}

const token = parseToken("abcdef.0123456789abcdef");
let server: Server;
let url = "";
/** What the server answers for cluster-info next, verbatim. */
let answer = { status: 200, body: "" };
let goodInfo: { kubeconfig: string; jws: string; caPem: string; pin: string };

beforeAll(async () => {
  const key = await generateKeyPair("ecdsa-p256");
  const ca = await createSelfSignedCa(key, { commonName: "fuzz-apiserver", organizations: [] }, { dns: ["localhost"], ips: ["127.0.0.1"] }, { days: 30 });
  server = createServer({ key: encodePrivateKeyPem(key), cert: ca.cert.pem }, (_request, response) => {
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // As kubeadm writes cluster-info's: one cluster named "", no users or contexts.
  const kubeconfig = ["apiVersion: v1", "clusters:", "- cluster:", `    certificate-authority-data: ${Buffer.from(ca.cert.pem).toString("base64")}`, `    server: ${url}`, '  name: ""', "contexts: null", 'current-context: ""', "kind: Config", "preferences: {}", "users: null", ""].join("\n");
  goodInfo = { kubeconfig, jws: detachedJws(kubeconfig, token.id, token.secret), caPem: ca.cert.pem, pin: ca.cert.spkiHash };
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

const configMap = (data: Record<string, unknown>) => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cluster-info", namespace: "kube-public" }, data });

describe("fuzzing what servers and hosts send (fixed seed)", { timeout: 600_000 * scale }, () => {
  it("the discovery chain works unfuzzed: cluster-info, its JWS and the pin verify", async () => {
    answer = { status: 200, body: configMap({ kubeconfig: goodInfo.kubeconfig, [`jws-kubeconfig-${token.id}`]: goodInfo.jws }) };
    const result = await verifyDiscovery({ server: url, token, pins: [goodInfo.pin], timeoutMs: 5_000 });
    expect(result.ok, JSON.stringify(result.steps)).toBe(true);
  });

  it("cluster-info: mutated JWS, kubeconfig and ConfigMap bytes, and arbitrary JSON, through verifyDiscovery", async () => {
    const shape = fc.oneof(
      // The JWS edited: header, separators, signature.
      textEdits.map((edits) => configMap({ kubeconfig: goodInfo.kubeconfig, [`jws-kubeconfig-${token.id}`]: editText(goodInfo.jws, edits) })),
      // The kubeconfig edited, re-signed so the parse behind the signature is reached.
      textEdits.map((edits) => {
        const kubeconfig = editText(goodInfo.kubeconfig, edits);
        return configMap({ kubeconfig, [`jws-kubeconfig-${token.id}`]: detachedJws(kubeconfig, token.id, token.secret) });
      }),
      // The answer's own bytes edited.
      textEdits.map((edits) => editText(configMap({ kubeconfig: goodInfo.kubeconfig, [`jws-kubeconfig-${token.id}`]: goodInfo.jws }), edits)),
      // Any JSON where a field is.
      fc.record({ kubeconfig: fc.oneof(fc.jsonValue(), fc.constant(goodInfo.kubeconfig)), jws: fc.oneof(fc.jsonValue(), fc.constant(goodInfo.jws)) }).map(({ kubeconfig, jws }) => configMap({ kubeconfig, [`jws-kubeconfig-${token.id}`]: jws })),
      fc.jsonValue().map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(shape, fc.constantFrom(200, 200, 200, 404, 500), async (body, status) => {
        answer = { status, body };
        const result = (await guarded("verifyDiscovery", () => verifyDiscovery({ server: url, token, pins: [goodInfo.pin], timeoutMs: 5_000 }))) as { steps: unknown[] } | undefined;
        if (result) expect(result.steps.length).toBeGreaterThan(0);
      }),
      runs(300),
    );
  });

  it("detachedJwsValid: any JWS, content and token", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), (jws, content, id, secret) => {
        expect(typeof detachedJwsValid(jws, content, id, secret)).toBe("boolean");
      }),
      runs(500),
    );
  });

  it("bootstrap-token Secrets: any object where a Secret is, and Secrets with any data", async () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const dataValue = fc.oneof(
      fc.constantFrom("true", "false", "2030-01-01T00:00:00Z", "not a time", "system:bootstrappers:kubeadm:default-node-token,bad group", "abcdef", "0123456789abcdef").map(b64),
      fc.string({ maxLength: 30 }),
      fc.jsonValue(),
    );
    const dataKey = fc.constantFrom("token-id", "token-secret", "expiration", "usage-bootstrap-authentication", "usage-bootstrap-signing", "auth-extra-groups", "description", "__proto__", "constructor");
    const secret = fc.oneof(
      fc.record({
        metadata: fc.oneof(fc.record({ name: fc.oneof(fc.constant("bootstrap-token-abcdef"), fc.jsonValue()), deletionTimestamp: fc.oneof(fc.constant(undefined), fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue()),
        type: fc.oneof(fc.constant("bootstrap.kubernetes.io/token"), fc.jsonValue()),
        data: fc.oneof(fc.dictionary(dataKey, dataValue), fc.jsonValue()),
      }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(secret, async (value) => {
        await guarded("tokenFromSecret", () => tokenFromSecret(value as Parameters<typeof tokenFromSecret>[0]));
      }),
      runs(1000),
    );
  });

  it("the node script's report: KPKI and KPKIFACT lines with any fields, judged by the preflight", async () => {
    // Every fact name the preflight reads and the scripts print, so the fuzz reaches each check.
    const sources = [readFileSync(path.join(repoRoot, "src/bootstrap/node/preflight.ts"), "utf8"), ...readdirSync(path.join(repoRoot, "templates/node")).map((name) => readFileSync(path.join(repoRoot, "templates/node", name), "utf8"))].join("\n");
    const factNames = [...new Set([...sources.matchAll(/facts\.([A-Za-z_][A-Za-z0-9_]*)|facts\[`?"?([A-Za-z_][A-Za-z0-9_]*)|\bp?fact ([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] ?? match[2] ?? match[3]!))];
    expect(factNames.length).toBeGreaterThan(20);
    const value = fc.oneof(
      fc.constantFrom("", "0", "1", "yes", "no", "ok", "done", "enabled", "cgroup2fs", "v1.33.1", "v9.99.99", "1.33", "systemd", "cgroupfs", "true", "6443 10250", "not-empty", "-1", "NaN", "1e999", "::", "10.96.0.0/12", "http://[::1", "a,b,,c"),
      fc.string({ maxLength: 30 }),
    );
    const line = fc.oneof(
      fc.tuple(fc.constantFrom(...factNames, "__proto__", "constructor", "preflight"), value).map(([name, text]) => `KPKIFACT\t${name}\t${text}`),
      fc.tuple(fc.constantFrom("os", "swap", "packages", "preflight", "x"), fc.constantFrom("ok", "changed", "would-change", "failed", "warn", "info", "bogus", ""), fc.string({ maxLength: 20 })).map(([step, state, detail]) => `KPKI\t${step}\t${state}\t${detail}`),
      fc.array(fc.oneof(fc.constantFrom("KPKI", "KPKIFACT", "\t", ""), fc.string({ maxLength: 10 })), { maxLength: 5 }).map((parts) => parts.join("\t")),
    );
    const kubernetes = resolveKubernetesVersion("1.33");
    const ignore = { names: [], has: () => false };
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 40 }), fc.constantFrom("control-plane", "worker") as fc.Arbitrary<"control-plane" | "worker">, async (lines, role) => {
        const stdout = ["KPKIFACT\tpreflight\tdone", ...lines].join("\n");
        const parsed = (await guarded("parseNodeOutput", () => parseNodeOutput(stdout))) as ReturnType<typeof parseNodeOutput>;
        for (const step of parsed.steps) expect(["ok", "changed", "would-change", "failed", "warn", "info"]).toContain(step.state);
        await guarded("evaluatePreflight", () =>
          evaluatePreflight(parsed.facts, { role, kubernetes, apiserverPort: 6443, serviceCidr: "10.96.0.0/12", podCidr: "10.244.0.0/16", endpointHost: "192.0.2.10", hostAddress: "192.0.2.11", ipv6: false }, ignore),
        );
      }),
      runs(1000),
    );
  });

  it("the fleet's certificate collection: KPKIFILE/KPKIKEY/KPKIEND blocks with any contents", async () => {
    const certPem = goodInfo.caPem.trimEnd();
    const b64 = Buffer.from(goodInfo.caPem).toString("base64");
    const body = fc.oneof(fc.constant(certPem), textEdits.map((edits) => editText(certPem, edits)), fc.constantFrom(`certificate-authority-data\t${b64}`, `client-certificate-data\t${b64}`, "client-certificate-data\tnot base64!", "server\thttps://192.0.2.10:6443", "a\tb\tc"), fc.string({ maxLength: 40 }));
    const block = fc.tuple(
      fc.constantFrom("cert", "kubeconfig", "unreadable", ""),
      fc.constantFrom("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/admin.conf", "/var/lib/kubelet/pki/kubelet.crt", "/etc/kubernetes/pki/etcd/ca.crt", "relative", ""),
      fc.array(body, { maxLength: 3 }),
      fc.boolean(),
    ).map(([kind, file, lines, ended]) => [`KPKIFILE\t${kind}\t${file}`, ...lines, ...(ended ? ["KPKIEND"] : [])].join("\n"));
    const noise = fc.oneof(fc.constantFrom("KPKIKEY\t/etc/kubernetes/pki/ca.key", "KPKIEND", "KPKIFILE", "KPKIKEY"), fc.string({ maxLength: 20 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(block, noise), { maxLength: 12 }), async (parts) => {
        const collected = (await guarded("parseCollected", () => parseCollected(parts.join("\n")))) as ReturnType<typeof parseCollected>;
        await guarded("hostCertificates", () => hostCertificates("node-1", collected, undefined));
      }),
      runs(600),
    );
  });
});

describe("regressions the fuzzing found", () => {
  it("a Secret whose data or name is not text, or that is no object at all, is a token with problems, not a TypeError", () => {
    for (const secret of [null, 7, "x", { data: { "token-id": 5 } }, { data: "abc" }, { metadata: { name: 7 } }, { metadata: null, data: null }, { data: { expiration: Buffer.from("x").toString("base64"), "auth-extra-groups": null } }]) {
      const info = tokenFromSecret(secret as Parameters<typeof tokenFromSecret>[0]);
      expect(info.problems.length, JSON.stringify(secret)).toBeGreaterThan(0);
    }
  });

  it("token list over an API server answering Secrets that are no Secrets: exit 0, each listed with its problem (not an internal error)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kpki-fuzz-remote-"));
    try {
      const kubeconfig = path.join(dir, "admin.conf");
      writeFileSync(kubeconfig, [
        "apiVersion: v1", "kind: Config", "current-context: x",
        "clusters:", "- name: c", "  cluster:", `    server: ${url}`, `    certificate-authority-data: ${Buffer.from(goodInfo.caPem).toString("base64")}`,
        "users:", "- name: u", "  user:", "    token: abcdef.0123456789abcdef",
        "contexts:", "- name: x", "  context: {cluster: c, user: u}", "",
      ].join("\n"));
      const type = "bootstrap.kubernetes.io/token";
      answer = { status: 200, body: JSON.stringify({ kind: "SecretList", items: [null, 7, { type, metadata: { name: 5 }, data: { "token-id": 5, "token-secret": null } }, { type, data: "abc" }] }) };
      const result = await runCli(["token", "list", "--kubeconfig", kubeconfig, "-o", "json"]);
      expect(result.exitCode, result.stderr).toBe(0);
      const listed = JSON.parse(result.stdout) as { problems: string[] }[] | { tokens: { problems: string[] }[] };
      const tokens = Array.isArray(listed) ? listed : listed.tokens;
      expect(tokens).toHaveLength(2);
      expect(tokens.map((token) => token.problems.join("; ")).join("\n")).toMatch(/token-id, token-secret are not base64 text/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a report line with an unknown step state is a failed step that says so; a fact named __proto__ is only a fact", () => {
    const parsed = parseNodeOutput("KPKI\tos\tbogus\tdetail\nKPKIFACT\t__proto__\tx\nKPKI\tswap\tok\toff\n");
    expect(parsed.steps).toEqual([
      { step: "os", state: "failed", detail: 'the host reported the state "bogus", which kpki does not know: detail' },
      { step: "swap", state: "ok", detail: "off" },
    ]);
    expect(Object.getPrototypeOf(parsed.facts)).toBe(null);
    expect(parsed.facts.__proto__).toBe("x");
  });
});
