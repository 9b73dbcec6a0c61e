#!/usr/bin/env node
// Side-by-side benchmarks: kpki against the peer doing the same work, run
// alternately, reported as medians and ratios of medians. Not a test: these
// machines are noisy, so nothing here asserts a time.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const kpki = path.join(root, "bin/kpki"); // as users run it: from the startup snapshot
const runs = Number(process.env.BENCH_RUNS ?? 9);
const only = process.env.BENCH_ONLY; // e.g. BENCH_ONLY=whole to run one comparison

function timeOnce(command, args, cwd, env) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  return seconds;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Prints a derived figure unless its comparison was skipped. */
const ratio = (line) => line.includes("NaN") || console.log(line);

/** Runs each contender once per round, alternating which goes first, in a fresh folder each time. */
function compare(title, contenders) {
  if (only && !title.toLowerCase().includes(only.toLowerCase())) return contenders.map(() => NaN);
  const times = contenders.map(() => []);
  for (let round = 0; round < runs; round++) {
    const order = round % 2 ? [...contenders.keys()].reverse() : [...contenders.keys()];
    for (const index of order) {
      const dir = mkdtempSync(path.join(tmpdir(), "kpki-bench-"));
      try {
        const [command, args, env] = contenders[index].command(dir);
        times[index].push(timeOnce(command, args, dir, env));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const medians = times.map(median);
  console.log(`\n${title} (median of ${runs} alternating runs)`);
  contenders.forEach((contender, index) => console.log(`  ${contender.name.padEnd(44)} ${medians[index].toFixed(3)} s`));
  return medians;
}

const flow = path.join(root, "bench/openssl-flow.sh");
const floorScript = path.join(root, "bench/keygen-floor.js");
const [kpkiRsa, opensslRsa, floorRsa] = compare("CA + API server certificate, RSA-2048", [
  { name: "kpki init --master-ip --only apiserver", command: (dir) => [kpki, ["init", "--master-ip", "192.0.2.10", "--only", "apiserver", "--dir", dir]] },
  { name: "openssl flow (bench/openssl-flow.sh)", command: () => ["sh", [flow]] },
  { name: "floor: 4 primes at once in node", command: () => ["node", [floorScript, "2"]] },
]);
ratio(`  ratio kpki / openssl = ${(kpkiRsa / opensslRsa).toFixed(2)} (goal <= 0.70)`);
ratio(`  ratio kpki / floor = ${(kpkiRsa / floorRsa).toFixed(2)}`);

// ECDSA keys cost almost nothing to make, so this shows kpki's own overhead.
const [kpkiEc, opensslEc] = compare("CA + API server certificate, ECDSA P-256", [
  { name: "kpki init --only apiserver, ECDSA", command: (dir) => [kpki, ["init", "--master-ip", "192.0.2.10", "--only", "apiserver", "--dir", dir, "--key-type", "ecdsa-p256"]] },
  { name: "openssl flow, KEY=ec", command: () => ["sh", [flow], { KEY: "ec" }] },
]);
ratio(`  ratio kpki / openssl = ${(kpkiEc / opensslEc).toFixed(2)}`);

const [kpkiFull, opensslFull, cfsslFull, floor, kpkiOpensslKeys, keysFloor] = compare("kubeadm's whole set: 3 CAs, 9 leaf certs, sa, 5 kubeconfigs (16 RSA-2048 keys)", [
  { name: "kpki init --master-ip --node-name", command: (dir) => [kpki, ["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--dir", path.join(dir, "pki")]] },
  { name: "openssl script (bench/openssl-full.sh)", command: () => ["sh", [path.join(root, "bench/openssl-full.sh")]] },
  { name: "cfssl script (bench/cfssl-full.sh)", command: () => ["sh", [path.join(root, "bench/cfssl-full.sh")]] },
  { name: "floor: 32 primes at once in node", command: () => ["node", [floorScript, "16"]] },
  { name: "kpki init ... --keygen openssl", command: (dir) => [kpki, ["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--dir", path.join(dir, "pki"), "--keygen", "openssl"]] },
  { name: "16 OpenSSL-generated keys at once in node", command: () => ["node", [floorScript, "16", "keys"]] },
]);
ratio(`  ratio kpki / cfssl = ${(kpkiFull / cfsslFull).toFixed(2)} (goal <= 0.45)`);
ratio(`  ratio kpki / openssl = ${(kpkiFull / opensslFull).toFixed(2)} (goal <= 0.30)`);
ratio(`  ratio kpki / floor = ${(kpkiFull / floor).toFixed(2)} (goal <= 1.20)`);
ratio(`  --keygen openssl: ratio to kpki's default = ${(kpkiOpensslKeys / kpkiFull).toFixed(2)}, to its own floor = ${(kpkiOpensslKeys / keysFloor).toFixed(2)}`);

// token verify against curl doing the same verified request, on a local HTTPS endpoint.
if (!only || "token verify".includes(only)) {
  const dir = mkdtempSync(path.join(tmpdir(), "kpki-bench-token-"));
  const token = "abcdef.0123456789abcdef";
  spawnSync("node", [kpki, "init", "--master-ip", "127.0.0.1", "--only", "apiserver", "--dir", dir], { stdio: "ignore" });
  const server = spawn("node", [path.join(root, "bench/token-server.js"), dir, token], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => server.stdout.once("data", (data) => resolve(String(data).trim())));
  const url = `https://127.0.0.1:${port}`;
  try {
    const [kpkiVerify, curlVerify] = compare("token verify: GET /api with a bearer token, TLS verified against ca.crt", [
      { name: "kpki token verify --ca", command: () => [kpki, ["token", "verify", "--server", url, "--token", token, "--ca", path.join(dir, "ca.crt")]] },
      { name: "curl --cacert -H 'Authorization: Bearer'", command: () => ["curl", ["-sS", "--fail", "--cacert", path.join(dir, "ca.crt"), "-H", `Authorization: Bearer ${token}`, `${url}/api`]] },
    ]);
    ratio(`  ratio kpki / curl = ${(kpkiVerify / curlVerify).toFixed(2)} (kpki also asks who the token is: a second request)`);
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const [version, nodeBare] = compare("start-up", [
  { name: "kpki --version", command: () => [kpki, ["--version"]] },
  { name: "node -e 0", command: () => ["node", ["-e", "0"]] },
]);
ratio(`  kpki start-up cost over bare node: ${((version - nodeBare) * 1000).toFixed(0)} ms`);
