// Property-based fuzzing of every parser and validator kpki runs on input:
// whatever the bytes, each one returns or throws kpki's own one-line error
// (KpkiError), never anything else, and never aborts the process (an abort
// takes this test file down, which fails the run). Fixed seed; CI runs the
// default count (> 5,000 inputs), KPKI_FUZZ_SCALE=10 runs ten times as many.
// Each failure class it found is a regression test in test/cli/hostile-input.test.ts.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { KpkiError } from "../../src/errors.js";
import { buildCsr, createSelfSignedCa, generateKeyPair, inspect, parseCertificate, parseCsr, parseInitConfig, parseKubeconfig, renderKubeconfig } from "../../src/index.js";
import { pemBlocks, toPem } from "../../src/pki/der.js";
import { parsePrivateKeyPem } from "../../src/pki/keys.js";
import { dnsNameProblem, firstIpOfCidr, parseAltName } from "../../src/pki/names.js";
import { signingPolicyProblem } from "../../src/pki/sign.js";
import { parseDuration } from "../../src/pki/expiry.js";
import { parseEndpoint } from "../../src/pki/spec.js";
import { parseInventory } from "../../src/bootstrap/node/inventory.js";
import { checkGroups, parseToken, parseTtl } from "../../src/bootstrap/api/token.js";
import { checkPin } from "../../src/bootstrap/api/trust.js";
import { clusterInfoFromConfigMap, clusterOfClusterInfo } from "../../src/bootstrap/api/clusterinfo.js";
import { isKubeadmConfig, parseKubeadmConfig } from "../../src/pki/kubeadmconfig.js";
import { repoRoot } from "../support/cli.js";
import { seq, tlv } from "../support/hostile.js";

const SEED = 1313;
const scale = Number(process.env.KPKI_FUZZ_SCALE ?? 1);
const runs = (count: number) => ({ seed: SEED, numRuns: Math.round(count * scale), endOnFailure: true });

/** Longest single parse per parser, printed at the end (a figure, not an assertion). */
const slowest = new Map<string, number>();

/** Runs one parse: it may succeed or throw KpkiError with a one-line message; anything else fails the property. */
async function guarded(name: string, parse: () => unknown): Promise<void> {
  const started = performance.now();
  try {
    await parse();
  } catch (error) {
    if (!(error instanceof KpkiError)) throw new Error(`${name} threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    expect(error.message, name).not.toContain("\n");
    expect(error.message.length, name).toBeLessThan(600);
  } finally {
    slowest.set(name, Math.max(slowest.get(name) ?? 0, performance.now() - started));
  }
}

/** Byte-level edits of a sample: overwrite, insert, delete, truncate. */
const edits = fc.array(
  fc.record({ at: fc.nat(), kind: fc.constantFrom("set", "insert", "delete", "truncate"), byte: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 4 },
);
function mutate(sample: Uint8Array, changes: { at: number; kind: string; byte: number }[]): Buffer {
  let bytes = Buffer.from(sample);
  for (const { at, kind, byte } of changes) {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    if (kind === "set" && bytes.length > 0) bytes[i] = byte;
    else if (kind === "insert") bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    else if (kind === "delete") bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
    else if (kind === "truncate") bytes = bytes.subarray(0, i);
  }
  return bytes;
}

const samples = {
  keys: [] as { label: string; der: Buffer }[],
  certs: [] as Buffer[],
  csrs: [] as Buffer[],
  kubeconfig: "",
};

beforeAll(async () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  samples.keys = [
    { label: "RSA PRIVATE KEY", der: rsa.privateKey.export({ type: "pkcs1", format: "der" }) },
    { label: "EC PRIVATE KEY", der: ec.privateKey.export({ type: "sec1", format: "der" }) },
    { label: "PRIVATE KEY", der: ec.privateKey.export({ type: "pkcs8", format: "der" }) },
    { label: "PRIVATE KEY", der: ed.privateKey.export({ type: "pkcs8", format: "der" }) },
    { label: "PUBLIC KEY", der: ec.publicKey.export({ type: "spki", format: "der" }) },
  ];
  const caKey = await generateKeyPair("ecdsa-p256");
  const ca = await createSelfSignedCa(caKey, { commonName: "fuzz-ca", organizations: [] }, { dns: ["fuzz-ca"], ips: ["192.0.2.1", "2001:db8::1"] }, { days: 30 });
  const leafKey = await generateKeyPair("rsa-2048");
  const csr = await buildCsr(leafKey, { commonName: "fuzz", organizations: ["o"] }, { dns: ["a.example.com"], ips: ["192.0.2.7"] });
  samples.certs = [Buffer.from(ca.cert.der)];
  samples.csrs = [Buffer.from(csr.der), Buffer.from((await buildCsr(caKey, { commonName: "ec", organizations: [] }, { dns: [], ips: ["10.0.0.1"] })).der)];
  samples.kubeconfig = renderKubeconfig({ cluster: "kubernetes", server: "https://192.0.2.10:6443", caPem: ca.cert.pem, user: "admin", clientCertPem: ca.cert.pem, clientKeyPem: toPem(samples.keys[1]!.der, "EC PRIVATE KEY") });
});

// The curve OIDs kpki knows, others OpenSSL knows, and junk: the abort hid in keys OpenSSL decodes.
const curveOids = ["2a8648ce3d030107", "2b81040022", "2b81040023", "2b8104000a", "2b8104001f", "2a811ccf5501822d", "2b240303020801010b", "2a8648ce3d030101", "01", ""];
/** EC keys built field by field: version, scalar length, curve, public point form and length, SEC1 or PKCS#8. */
const structuredEcKey = fc
  .record({
    // Mostly what OpenSSL decodes (version 1, a named curve), so the fuzz reaches Node's key code; every length equally likely.
    version: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 3 })),
    scalar: fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 255 })).map(([length, byte]) => new Uint8Array(length).fill(byte)),
    curve: fc.oneof(fc.constantFrom(...curveOids.slice(0, 4)), fc.constantFrom(...curveOids)),
    params: fc.oneof(fc.constant("named"), fc.constantFrom("named", "none", "null", "explicit")),
    point: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 0, max: 140 }).map((length) => new Uint8Array(length).fill(length === 0 ? 0 : 4, 0, 1)),
      fc.integer({ min: 0, max: 7 }).map((form) => Uint8Array.from([form, ...new Array(64).fill(7)])),
    ),
    pkcs8: fc.boolean(),
  })
  .map(({ version, scalar, curve, params, point, pkcs8 }) => {
    const curveParams = params === "named" ? tlv(0x06, Buffer.from(curve, "hex")) : params === "null" ? tlv(0x05, []) : params === "explicit" ? seq(tlv(0x02, [1])) : undefined;
    const inner = seq(
      tlv(0x02, [version]),
      tlv(0x04, scalar),
      ...(curveParams && !pkcs8 ? [tlv(0xa0, curveParams)] : []),
      ...(point ? [tlv(0xa1, tlv(0x03, [0, ...point]))] : []),
    );
    if (!pkcs8) return toPem(inner, "EC PRIVATE KEY");
    return toPem(seq(tlv(0x02, [0]), seq(tlv(0x06, Buffer.from("2a8648ce3d0201", "hex")), ...(curveParams ? [curveParams] : [])), tlv(0x04, inner)), "PRIVATE KEY");
  });

describe("fuzzing the parsers (fixed seed)", { timeout: 600_000 * scale }, () => {
  it("private keys: mutated PKCS#1, SEC1, PKCS#8 and structured EC keys", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), edits, async (which, changes) => {
        const sample = samples.keys[which % 4]!;
        await guarded("parsePrivateKeyPem", () => parsePrivateKeyPem(toPem(mutate(sample.der, changes), sample.label), "key.pem"));
      }),
      runs(700),
    );
    await fc.assert(fc.asyncProperty(structuredEcKey, async (key) => guarded("parsePrivateKeyPem", () => parsePrivateKeyPem(key, "key.pem"))), runs(700));
  });

  it("cert inspect: every kind of PEM block and DER, mutated, and structured EC keys", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), edits, fc.boolean(), async (which, changes, asPem) => {
        const all = [...samples.keys.map((key) => ({ label: key.label, der: key.der })), ...samples.certs.map((der) => ({ label: "CERTIFICATE", der })), ...samples.csrs.map((der) => ({ label: "CERTIFICATE REQUEST", der }))];
        const sample = all[which % all.length]!;
        const mutated = mutate(sample.der, changes);
        await guarded("inspect", () => inspect(asPem ? Buffer.from(toPem(mutated, sample.label)) : mutated, "file.pem"));
      }),
      runs(900),
    );
    await fc.assert(fc.asyncProperty(structuredEcKey, async (key) => guarded("inspect", () => inspect(Buffer.from(key), "file.pem"))), runs(300));
  });

  it("certificates and CSRs: mutated DER (parseCertificate, parseCsr, the signing policy)", async () => {
    await fc.assert(
      fc.asyncProperty(edits, async (changes) => guarded("parseCertificate", () => parseCertificate(toPem(mutate(samples.certs[0]!, changes), "CERTIFICATE"), "ca.crt"))),
      runs(600),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(), edits, async (which, changes) =>
        guarded("parseCsr", async () => signingPolicyProblem(await parseCsr(toPem(mutate(samples.csrs[which % 2]!, changes), "CERTIFICATE REQUEST"), "x.csr"))),
      ),
      runs(500),
    );
  });

  it("the PEM scanner: arbitrary text around BEGIN and END lines", async () => {
    const piece = fc.oneof(fc.constantFrom("-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", "-----BEGIN ", "-----", "\n", "MIIB", "Proc-Type: 4,ENCRYPTED\n\n", "-----BEGIN EC PRIVATE KEY-----"), fc.string({ maxLength: 20 }));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 60 }), async (pieces) => {
        const text = pieces.join("");
        await guarded("pemBlocks", () => pemBlocks(text));
        await guarded("inspect", () => inspect(Buffer.from(text, "latin1"), "file.pem"));
      }),
      runs(500),
    );
  });

  it("YAML inputs: kubeconfig, --config and inventory, mutated and nested", async () => {
    const config = "masterIp: 192.0.2.10\nnodeName: cp-1\nsans: [api.example.com, 198.51.100.7]\ndir: /etc/kubernetes/pki\n";
    const inventory = "defaults: { user: root, identity: ~/.ssh/id_ed25519 }\nhosts:\n  - { name: cp-1, address: 192.0.2.11, role: control-plane }\n  - 192.0.2.21\n  - { address: 192.0.2.22, port: 2222 }\n";
    const yamlish = fc.oneof(
      fc.tuple(fc.constantFrom("[", "{", "- ", "&a ", "*a ", "? ", ": ", "|\n", "\n  ", "!!binary ", "'", '"', "#"), fc.integer({ min: 1, max: 300 })).map(([text, count]) => text.repeat(count)),
      fc.string({ maxLength: 40 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(), edits, fc.array(yamlish, { maxLength: 4 }), async (which, changes, inserts) => {
        const base = [samples.kubeconfig, config, inventory][which % 3]!;
        const text = mutate(Buffer.from(base), changes).toString("latin1") + inserts.join("");
        await guarded("parseKubeconfig", () => parseKubeconfig(text, "admin.conf", { baseDir: "/nonexistent" }));
        await guarded("parseInitConfig", () => parseInitConfig(text, "kpki.yaml"));
        await guarded("parseInventory", () => parseInventory(text, "hosts.yaml"));
      }),
      runs(600),
    );
  });

  it("kubeadm's config (v1beta3, v1beta4, several documents): mutated fixtures, and every field kpki reads given any value", async () => {
    const fixtures = ["kubeadm-v1beta3.yaml", "kubeadm-v1beta4.yaml"].map((name) => readFileSync(path.join(repoRoot, "test/fixtures", name), "utf8"));
    const readBoth = async (text: string) => {
      await guarded("isKubeadmConfig", () => isKubeadmConfig(text, "kubeadm.yaml"));
      await guarded("parseKubeadmConfig", () => parseKubeadmConfig(text, "kubeadm.yaml"));
    };
    const separators = fc.constantFrom("---\n", "\n---\n", "--- |\n", "...\n", "---\n---\n", "%YAML 1.2\n---\n", "");
    await fc.assert(
      fc.asyncProperty(fc.nat(), edits, fc.array(separators, { maxLength: 2 }), fc.nat(), async (which, changes, inserted, at) => {
        let text = mutate(Buffer.from(fixtures[which % 2]!), changes).toString("latin1");
        for (const separator of inserted) text = text.slice(0, at % (text.length + 1)) + separator + text.slice(at % (text.length + 1));
        await readBoth(text);
      }),
      runs(500),
    );
    // Each field kpki reads, in each kind and version, set to any YAML value (and anchors, tags, duplicates).
    const fields = [
      ["InitConfiguration", "localAPIEndpoint", "advertiseAddress"], ["InitConfiguration", "localAPIEndpoint", "bindPort"], ["InitConfiguration", "nodeRegistration", "name"],
      ["ClusterConfiguration", "controlPlaneEndpoint"], ["ClusterConfiguration", "apiServer", "certSANs"], ["ClusterConfiguration", "networking", "serviceSubnet"],
      ["ClusterConfiguration", "etcd", "local", "serverCertSANs"], ["ClusterConfiguration", "etcd", "external"], ["ClusterConfiguration", "encryptionAlgorithm"],
      ["ClusterConfiguration", "certificateValidityPeriod"], ["ClusterConfiguration", "caCertificateValidityPeriod"], ["ClusterConfiguration", "certificatesDir"],
      ["JoinConfiguration", "discovery"], ["Unknown", "x"], ["", "x"],
    ] as const;
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom("8760h0m0s", "1h", "-24h", "87600h", "RSA-4096", "ECDSA-P256", "192.0.2.10", "lb:6443", "!!binary AAAA", "&a x", "*a", "{ a: 1 }", "[1, [2]]", "~", "0x1bb", "6443.5", "1e400"));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...fields), fc.constantFrom("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta2", "v1"), value), { minLength: 1, maxLength: 4 }), fc.boolean(), async (documents, raw) => {
        const text = documents
          .map(([[kind, ...keys], apiVersion, fieldValue]) => {
            const rendered = raw && typeof fieldValue === "string" ? fieldValue : JSON.stringify(fieldValue);
            const nested = keys.map((key, depth) => `${"  ".repeat(depth)}${key}:${depth === keys.length - 1 ? ` ${rendered}` : ""}`).join("\n");
            return `apiVersion: ${apiVersion}\nkind: ${kind}\n${nested}\n`;
          })
          .join("---\n");
        await readBoth(text);
      }),
      runs(500),
    );
  });

  it("network answers: cluster-info's ConfigMap and kubeconfig", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.string({ maxLength: 200 }), async (body, kubeconfig) => {
        await guarded("clusterInfoFromConfigMap", () => clusterInfoFromConfigMap(body));
        await guarded("clusterOfClusterInfo", () => clusterOfClusterInfo(kubeconfig));
        await guarded("clusterOfClusterInfo", () => clusterOfClusterInfo(`clusters:\n- cluster: ${JSON.stringify(body)}\n`));
      }),
      runs(300),
    );
  });

  it("validators of flags and values: tokens, pins, TTLs, durations, SANs, CIDRs, endpoints, groups", async () => {
    const text = fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[a-z0-9.:\/\[\]-]{0,40}$/));
    await fc.assert(
      fc.asyncProperty(text, async (value) => {
        await guarded("parseToken", () => parseToken(value));
        await guarded("checkPin", () => checkPin(value));
        await guarded("parseTtl", () => parseTtl(value));
        await guarded("parseDuration", () => parseDuration(value));
        await guarded("parseAltName", () => parseAltName(value));
        await guarded("dnsNameProblem", () => dnsNameProblem(value));
        await guarded("firstIpOfCidr", () => firstIpOfCidr(value));
        await guarded("parseEndpoint", () => parseEndpoint(value, 6443));
        await guarded("checkGroups", () => checkGroups([value]));
      }),
      runs(600),
    );
  });

  it("prints the slowest single parse of each parser", () => {
    const figures = [...slowest].map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`).join(", ");
    console.log(`slowest single parse: ${figures}`);
    expect(slowest.size).toBeGreaterThan(10);
  });
});
