import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { scalar } from "../../src/pki/kubeconfig.js";

describe("kubeconfig scalars", () => {
  it("are what yaml writes for the same string, plain or quoted", () => {
    const pieces = fc.constantFrom("a", "Z", "kubernetes", "admin@kubernetes", "system:node:cp-1", "https://192.0.2.10:6443", ":", ": ", " ", "#", " #", "-", ".", "0", "1.5", "@", "/", "=", "+", "'", '"', "\\", "null", "true", "False", "~", "yes", "\n", "é", "[", "{", ",", "&", "*", "!", "%", "`", "?", "|", ">");
    fc.assert(
      fc.property(fc.array(pieces, { minLength: 1, maxLength: 6 }).map((parts) => parts.join("")), (value) => {
        expect(scalar(value)).toBe(stringify(value).trimEnd());
      }),
      { numRuns: 5000 },
    );
    for (const value of ["null", "True", "kubernetes-admin", "system:masters", "a:", "a: b", "x#y", "x #y", "cp-1.example.com"]) expect(scalar(value)).toBe(stringify(value).trimEnd());
  });
});
