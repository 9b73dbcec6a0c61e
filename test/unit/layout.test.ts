import { describe, expect, it } from "vitest";
import { KpkiError } from "../../src/errors.js";
import { resolveClusterLayout } from "../../src/pki/layout.js";

describe("the cluster layout", () => {
  it("puts pki/ and the kubeconfigs in --dir, and names the flag behind each folder", () => {
    expect(resolveClusterLayout({ dir: "c" }, "/base")).toEqual({
      dir: "/base/c", certDir: "/base/c/pki", kubeconfigDir: "/base/c", certDirFlag: "--dir", kubeconfigDirFlag: "--dir",
    });
    expect(resolveClusterLayout({ certDir: "/p", kubeconfigDir: "k" }, "/base")).toEqual({
      dir: "/base/kubernetes", certDir: "/p", kubeconfigDir: "/base/k", certDirFlag: "--cert-dir", kubeconfigDirFlag: "--kubeconfig-dir",
    });
  });

  it("refuses an empty folder flag, which would mean the current folder", () => {
    for (const [options, message] of [
      [{ dir: "" }, /^--dir is empty: give a folder \(or leave --dir out for \.\/kubernetes\)$/],
      [{ dir: "c", certDir: " " }, /^--cert-dir is empty/],
      [{ kubeconfigDir: "" }, /^--kubeconfig-dir is empty/],
    ] as const) {
      const attempt = () => resolveClusterLayout(options, "/base");
      expect(attempt).toThrow(KpkiError);
      expect(attempt).toThrow(message);
    }
  });
});
