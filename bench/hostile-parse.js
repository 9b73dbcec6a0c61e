#!/usr/bin/env node
// How long kpki's parsers take on the worst inputs its bounds still admit
// (1 MiB files, YAML nested to the limit), in process, as medians; and the
// whole `kpki cert inspect` beside `openssl storeutl` on the same files.
// Not a test: nothing here asserts a time. `node bench/hostile-parse.js`
// after `npm run build`; BENCH_RUNS sets the runs (default 9).
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = (file) => import(path.join(root, "dist", file));
const runs = Number(process.env.BENCH_RUNS ?? 9);
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

const [{ pemBlocks }, { inspect, MAX_INSPECTED_BLOCKS }, { parseKubeconfig }, { parseInitConfig }, { parsePrivateKeyPem }, { createSelfSignedCa, generateKeyPair }, { parseInventory }, { x509 }, { MAX_YAML_VALUES }] = await Promise.all([
  dist("pki/der.js"), dist("pki/inspect.js"), dist("pki/kubeconfig.js"), dist("pki/config.js"), dist("pki/keys.js"), dist("index.js"), dist("bootstrap/node/inventory.js"), dist("pki/x509.js"), dist("inputbounds.js"),
]);

async function timed(title, work) {
  const times = [];
  let outcome = "ok";
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    try {
      await work();
    } catch (error) {
      outcome = `refused: ${String(error.message).slice(0, 60)}`;
    }
    times.push(performance.now() - start);
  }
  console.log(`${title}: median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (${outcome})`);
}

const MiB = 1024 * 1024;
const begins = "-----BEGIN CERTIFICATE-----\n".repeat(Math.floor(MiB / 28));
const caKey = await generateKeyPair("ecdsa-p256");
const ca = (await createSelfSignedCa(caKey, { commonName: "bench", organizations: [] }, { dns: [], ips: [] }, { days: 30 })).cert.pem;
const bundle = ca.repeat(Math.floor(MiB / ca.length));
const chain = ca.repeat(MAX_INSPECTED_BLOCKS); // the most inspect reads
// A certificate just under the 32 KiB bound: 1,300 DNS names.
const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
const names = Array.from({ length: 1_300 }, (_, i) => ({ type: "dns", value: `h${i}.example.com` }));
const manySans = (await x509.X509CertificateGenerator.createSelfSigned({
  serialNumber: "01", name: "CN=sans", notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), keys,
  signingAlgorithm: { name: "ECDSA", hash: "SHA-256" }, extensions: [new x509.SubjectAlternativeNameExtension(names)],
})).toString("pem");
const deepYaml = `${"[".repeat(63)}${"]".repeat(63)}\n`;
const flowLine = "  - { a: [1, 2, 3], b: text }\n"; // 8 values by yamlValueCount
const wideYaml = `kind: Config\nitems:\n${flowLine.repeat(Math.floor((MAX_YAML_VALUES - 3) / 8))}`; // just under the value bound
const refusedYaml = `kind: Config\nitems:\n${flowLine.repeat(4_990)}`; // under the line bound, over the value bound
const hosts = `hosts:\n${Array.from({ length: 1_200 }, (_, i) => `  - name: node-${i}\n    address: 198.18.${i >> 8}.${i & 255}\n    role: worker\n    user: root\n`).join("")}`;
const rsa8k = generateKeyPairSync("rsa", { modulusLength: 8192 }).privateKey.export({ type: "pkcs1", format: "pem" });

await timed("PEM scan, 1 MiB of BEGIN lines", () => pemBlocks(begins));
await timed(`cert inspect, 1 MiB bundle (${Math.floor(MiB / ca.length)} certificates: refused)`, () => inspect(Buffer.from(bundle), "bundle.pem"));
await timed(`cert inspect, ${MAX_INSPECTED_BLOCKS} certificates (the most it reads)`, () => inspect(Buffer.from(chain), "chain.pem"));
await timed(`cert inspect, one certificate of ${Math.round(manySans.length * 3 / 4 / 1024)} KiB (1,300 SANs)`, () => inspect(Buffer.from(manySans), "sans.pem"));
await timed("cert inspect, 1 MiB of BEGIN lines", () => inspect(Buffer.from(begins), "begins.pem"));
await timed("kubeconfig, YAML nested 64 deep", () => parseKubeconfig(deepYaml, "deep.conf"));
await timed(`kubeconfig, ${MAX_YAML_VALUES} YAML values in flow mappings (the most it reads)`, () => parseKubeconfig(wideYaml, "wide.conf"));
await timed("kubeconfig, 5,000 lines of flow mappings (refused: too many values)", () => parseKubeconfig(refusedYaml, "wide.conf"));
await timed("inventory, 1,200 hosts in 4,800 lines of block YAML", () => parseInventory(hosts, "hosts.yaml"));
await timed("--config, YAML nested 5000 deep", () => parseInitConfig(`${"[".repeat(5000)}${"]".repeat(5000)}`, "kpki.yaml"));
await timed("private key, RSA-8192", () => parsePrivateKeyPem(rsa8k, "big.key"));

const dir = mkdtempSync(path.join(tmpdir(), "kpki-bench-hostile-"));
try {
  for (const [name, data] of [["chain.pem", chain], ["sans.pem", manySans], ["begins.pem", begins]]) {
    const file = path.join(dir, name);
    writeFileSync(file, data);
    const time = (command, args) => {
      const times = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        spawnSync(command, args, { stdio: "ignore" });
        times.push(performance.now() - start);
      }
      return median(times);
    };
    const kpki = time(path.join(root, "bin/kpki"), ["cert", "inspect", file]);
    const openssl = time("openssl", ["storeutl", "-noout", "-certs", file]);
    console.log(`${name}: kpki cert inspect ${kpki.toFixed(0)} ms, openssl storeutl ${openssl.toFixed(0)} ms, ratio ${(kpki / openssl).toFixed(2)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
