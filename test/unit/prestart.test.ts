// prestart's guess from argv, before the CLI loads: the keys init will want,
// looked up in the folders the cluster layout names (<dir>/pki and <dir>,
// or --cert-dir and --kubeconfig-dir), with the key generator asked for.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { prestartPlan } from "../../src/cli/prestart.js";
import { tempDir } from "../support/tmp.js";

const root = tempDir("kpki-prestart-");
const INIT = ["init", "--master-ip", "192.0.2.10"];
const place = (file: string) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, "");
};

describe("prestartPlan", () => {
  it("counts the keys missing from <dir>/pki, from the current directory's ./kubernetes by default", () => {
    expect(prestartPlan([...INIT, "--dir", "new", "--only", "apiserver"], root)).toEqual({ keyType: "rsa-2048", keygen: "primes", count: 2 });
    place(path.join(root, "kubernetes", "pki", "ca.key"));
    expect(prestartPlan([...INIT, "--only", "apiserver", "--key-type", "ecdsa-p256"], root)).toEqual({ keyType: "ecdsa-p256", keygen: "primes", count: 1 });
  });

  it("takes --keygen", () => {
    expect(prestartPlan([...INIT, "--dir", "new", "--only", "apiserver", "--keygen", "openssl"], root)).toMatchObject({ keygen: "openssl", count: 2 });
    expect(prestartPlan([...INIT, "--dir", "new", "--keygen", "nope"], root)).toBeUndefined();
  });

  it("looks for the kubeconfigs in <dir> and the keys in --cert-dir when given", () => {
    const cluster = path.join(root, "split");
    place(path.join(cluster, "certs", "ca.key"));
    place(path.join(cluster, "pki", "apiserver.key")); // not where --cert-dir points: still missing
    expect(prestartPlan([...INIT, "--dir", cluster, "--cert-dir", path.join(cluster, "certs"), "--only", "apiserver"], root)).toMatchObject({ count: 1 });
    const all = prestartPlan([...INIT, "--dir", cluster], root)!.count;
    place(path.join(cluster, "admin.conf"));
    expect(prestartPlan([...INIT, "--dir", cluster], root)!.count).toBe(all - 1);
  });

  it("starts nothing for a --dir that is itself a PKI folder (init refuses it), nor for a dry run", () => {
    const old = path.join(root, "old-layout");
    place(path.join(old, "ca.crt"));
    expect(prestartPlan([...INIT, "--dir", old], root)).toBeUndefined();
    expect(prestartPlan([...INIT, "--dir", old, "--cert-dir", old], root)).toMatchObject({ keyType: "rsa-2048" });
    expect(prestartPlan([...INIT, "--dir", "new", "--dry-run"], root)).toBeUndefined();
  });
});
