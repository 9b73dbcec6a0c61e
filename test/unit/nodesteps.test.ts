import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parseNodeOutput, renderNodeScript, STEPS } from "../../src/bootstrap/node/steps.js";
import { NEWEST_MINOR, resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";
import { parseInventory } from "../../src/bootstrap/node/inventory.js";

const kubernetes = resolveKubernetesVersion("1.33");

const templates = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../templates/node");

describe("the node steps table", () => {
  it("has one script file per step, and no script without a row", () => {
    const scripts = readdirSync(templates).filter((file) => file.endsWith(".sh") && file !== "lib.sh").map((file) => file.slice(0, -3));
    expect(scripts.sort()).toEqual(STEPS.map((step) => step.name).sort());
  });

  it("renders one script that sh and bash accept, running the steps in the table's order", async () => {
    for (const mode of ["check", "apply"] as const) {
      const script = renderNodeScript({ mode, role: "control-plane", runtime: "auto", firewall: true, ipv6: true, kubernetes });
      for (const shell of ["sh", "bash"]) expect((await execa(shell, ["-n"], { input: script, reject: false })).exitCode, `${shell} -n (${mode})`).toBe(0);
      const calls = [...script.slice(script.indexOf("# The steps, in order.")).matchAll(/^(?:case "\$FAMILY" in [a-z|]+\) |if .*; then )?step_([a-z]+)/gm)].map((match) => match[1]);
      expect(calls).toEqual(STEPS.map((step) => step.name));
      expect(script).not.toMatch(/\{\{/);
    }
  });

  it("runs a family's steps only on that family", () => {
    const script = renderNodeScript({ mode: "check", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes });
    for (const step of STEPS.filter((row) => row.families.length === 1)) {
      expect(script).toContain(`case "$FAMILY" in ${step.families.join("|")}) step_${step.name} ;; esac`);
    }
  });

  it("reads the report lines and keeps the rest as noise", () => {
    const parsed = parseNodeOutput("KPKI\tswap\tok\tno swap\nKPKIFACT\tcpus\t2\nwarning: something\n");
    expect(parsed).toEqual({ steps: [{ step: "swap", state: "ok", detail: "no swap" }], facts: { cpus: "2" }, noise: ["warning: something"] });
  });
});

describe("the library face", () => {
  it("exports the node side and the API side from the package", async () => {
    const kpki = await import("../../dist/index.js");
    for (const name of ["runFleet", "parseInventory", "renderNodeScript", "pushFiles", "planPush", "evaluatePreflight", "fleetChecks", "SshSession", "verifyToken", "verifyDiscovery", "createTokenSecret", "generateToken", "initPki"]) {
      expect(typeof (kpki as Record<string, unknown>)[name], name).toBe("function");
    }
    expect(kpki.STEPS.length).toBe(STEPS.length);
  });
});

describe("the Kubernetes target", () => {
  it("takes a minor or a whole version, with or without v, and picks kubeadm's pause image", () => {
    expect(resolveKubernetesVersion("1.33")).toEqual({ minor: "1.33", patch: undefined, pauseImage: "registry.k8s.io/pause:3.10", defaulted: false });
    expect(resolveKubernetesVersion("v1.33.2")).toMatchObject({ minor: "1.33", patch: "1.33.2" });
    expect(resolveKubernetesVersion(undefined)).toMatchObject({ minor: NEWEST_MINOR, defaulted: true });
  });

  it("refuses what is not a version, or a minor kpki does not know, in one line naming the flag", () => {
    for (const text of ["1", "1.33.2.1", "latest", "1.2", "2.0"]) {
      expect(() => resolveKubernetesVersion(text), text).toThrow(/^--kubernetes-version .*(not a Kubernetes version|does not know)/);
    }
  });

  it("reads kubernetesVersion from an inventory as written (1.30 stays 1.30), with the line of a bad one", () => {
    const hosts = parseInventory("defaults: { kubernetesVersion: 1.30 }\nhosts:\n  - 192.0.2.1\n  - { address: 192.0.2.2, kubernetesVersion: \"1.33.2\" }\n", "hosts.yaml");
    expect(hosts.map((host) => host.kubernetesVersion)).toEqual(["1.30", "1.33.2"]);
    expect(() => parseInventory("hosts:\n  - address: 192.0.2.1\n    kubernetesVersion: 1.99\n", "hosts.yaml")).toThrow(/^hosts\.yaml:3: kubernetesVersion 1\.99: kpki does not know/);
  });
});
