import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CATALOG, CERTS, selectEntries } from "../../src/pki/catalog.js";
import { catalogMarkdown } from "../../src/pki/catalogdoc.js";
import { KpkiError } from "../../src/errors.js";

describe("the catalog", () => {
  it("is what the README's table shows (npm run docs rewrites it)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const block = readme.match(/<!-- catalog:start -->\n([\s\S]*?)\n<!-- catalog:end -->/)?.[1];
    expect(block).toBe(catalogMarkdown());
  });

  it("has unique names and files, and every signer is a CA listed before what it signs", () => {
    const names = CATALOG.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    const bases = CERTS.map((entry) => entry.baseName);
    expect(new Set(bases).size).toBe(bases.length);
    for (const [index, entry] of CATALOG.entries()) {
      if (entry.kind === "keypair" || !entry.ca) continue;
      const ca = CERTS.findIndex((candidate) => candidate.name === entry.ca);
      expect(ca, entry.name).toBeGreaterThanOrEqual(0);
      expect(CERTS[ca]!.ca, `${entry.ca} must be self-signed`).toBeUndefined();
      expect(CATALOG.indexOf(CERTS[ca]!)).toBeLessThan(index);
    }
  });

  it("selects the names asked for plus the CAs they need, and drops etcd for an external etcd", () => {
    expect(selectEntries({ only: ["front-proxy-client"] }).map((entry) => entry.name)).toEqual(["front-proxy-ca", "front-proxy-client"]);
    expect(selectEntries({ only: ["admin.conf"] }).map((entry) => entry.name)).toEqual(["ca", "admin.conf"]);
    expect(selectEntries({ externalEtcd: true }).some((entry) => entry.name.startsWith("etcd") || entry.name === "apiserver-etcd-client")).toBe(false);
    expect(() => selectEntries({ only: ["nope"] })).toThrow(KpkiError);
    expect(() => selectEntries({ only: ["etcd-server"], externalEtcd: true })).toThrow(/external-etcd/);
  });
});
