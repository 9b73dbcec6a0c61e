import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { detachedJws, detachedJwsValid } from "../../src/bootstrap/api/jws.js";
import { manifestObjects, opaqueSecretManifest, serviceAccountManifest, tokenSecretManifest, tokenSecretObject } from "../../src/bootstrap/api/manifests.js";
import { CHARSETS, randomString } from "../../src/bootstrap/api/random.js";
import { checkGroups, checkUsages, generateToken, parseToken, parseTtl, tokenFromSecret, TOKEN_PATTERN } from "../../src/bootstrap/api/token.js";
import { checkPin } from "../../src/bootstrap/api/trust.js";
import { KpkiError } from "../../src/errors.js";
import { havePeer } from "../support/peers.js";

describe("random strings", () => {
  it("draw only from the alphabet, at the length asked", () => {
    for (const [name, alphabet] of Object.entries(CHARSETS)) {
      const value = randomString(500, alphabet);
      expect(value, name).toHaveLength(500);
      expect([...value].every((char) => alphabet.includes(char)), name).toBe(true);
    }
  });

  it("are uniform: no character of a 36-letter alphabet is favoured (chi-square, 360 000 draws)", () => {
    // With `byte % 36` the first 4 characters would come up 8/7 as often: chi-square ≈ 1900.
    const counts = new Map<string, number>();
    for (const char of randomString(360_000, CHARSETS.token)) counts.set(char, (counts.get(char) ?? 0) + 1);
    const expected = 10_000;
    const chiSquare = [...counts.values()].reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    // 35 degrees of freedom: P(chi-square > 100) < 1e-7 for a uniform source.
    expect(counts.size).toBe(36);
    expect(chiSquare).toBeLessThan(100);
  });
});

describe("bootstrap tokens", () => {
  it("are generated in kubeadm's form", () => {
    for (let i = 0; i < 50; i++) expect(`${generateToken().id}.${generateToken().secret}`).toMatch(TOKEN_PATTERN);
  });

  it.each([
    ["ABCDEF.0123456789abcdef", /upper-case/],
    ["abcde.0123456789abcdef", /id has 5 characters/],
    ["abcdef.0123456789abcde", /secret has 15 characters/],
    ["abcdef0123456789abcdef", /no "\."/],
    ["abcdef.0123456789abcdef.x", /more than one/],
    ["abc_ef.0123456789abcdef", /characters other than/],
  ])("explain what is wrong with %s, never repeating its secret half", (text, why) => {
    let error: unknown;
    try {
      parseToken(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KpkiError);
    expect((error as Error).message).toMatch(why);
    const secret = text.split(".")[1];
    if (secret) expect((error as Error).message).not.toContain(secret);
  });

  it("read TTLs as kubeadm does", () => {
    expect(parseTtl("24h")).toBe(86_400_000);
    expect(parseTtl("2h30m")).toBe(9_000_000);
    expect(parseTtl("0")).toBe(0);
    expect(() => parseTtl("soon")).toThrow(/not a duration/);
    expect(() => parseTtl("1h x")).toThrow(KpkiError);
  });

  it("check usages and extra groups", () => {
    expect(checkUsages(["signing", "authentication", "signing"])).toEqual(["signing", "authentication"]);
    expect(() => checkUsages(["sign"])).toThrow(/not a bootstrap token usage/);
    expect(checkGroups(["system:bootstrappers:kubeadm:default-node-token"])).toHaveLength(1);
    expect(() => checkGroups(["system:masters"])).toThrow(/system:bootstrappers/);
  });

  it("become kubeadm's Secret, and read back with every problem named", () => {
    const spec = {
      token: { id: "abcdef", secret: "0123456789abcdef" },
      expires: new Date("2026-01-02T03:04:05.678Z"),
      usages: ["signing"] as const,
      groups: ["system:bootstrappers:kubeadm:default-node-token"],
      description: "test",
    };
    const manifest = parse(tokenSecretManifest(spec));
    expect(manifest).toMatchObject({
      kind: "Secret",
      type: "bootstrap.kubernetes.io/token",
      metadata: { name: "bootstrap-token-abcdef", namespace: "kube-system" },
      stringData: {
        "token-id": "abcdef",
        "token-secret": "0123456789abcdef",
        expiration: "2026-01-02T03:04:05Z",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
        description: "test",
      },
    });
    expect(manifest.stringData["usage-bootstrap-authentication"]).toBeUndefined();
    const object = tokenSecretObject(spec) as Parameters<typeof tokenFromSecret>[0];
    const info = tokenFromSecret(object, new Date("2026-06-01T00:00:00Z"));
    expect(info).toMatchObject({ id: "abcdef", secret: "0123456789abcdef", usages: ["signing"], description: "test" });
    expect(info.problems.join("; ")).toMatch(/expired at 2026-01-02T03:04:05/);
    expect(info.problems.join("; ")).toMatch(/usage-bootstrap-authentication/);
  });

  it("pins are checked for their form", () => {
    expect(checkPin(`sha256:${"A".repeat(64)}`)).toBe(`sha256:${"a".repeat(64)}`);
    expect(() => checkPin("a".repeat(64))).toThrow(/must start with "sha256:"/);
    expect(() => checkPin("sha256:abc")).toThrow(/64 hex digits/);
  });
});

const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

describe("cluster-info's detached JWS", () => {
  const kubeconfig = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.0.2.10:6443\n  name: \"\"\nkind: Config\n";

  it("has kubeadm's header and verifies only with the right secret", () => {
    const jws = detachedJws(kubeconfig, "abcdef", "0123456789abcdef");
    const [header, payload, signature] = jws.split(".");
    expect(JSON.parse(Buffer.from(header!, "base64url").toString())).toEqual({ alg: "HS256", kid: "abcdef" });
    expect(payload).toBe("");
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(detachedJwsValid(jws, kubeconfig, "abcdef", "0123456789abcdef")).toBe(true);
    expect(detachedJwsValid(jws, kubeconfig, "abcdef", "0123456789abcdee")).toBe(false);
    expect(detachedJwsValid(jws, `${kubeconfig} `, "abcdef", "0123456789abcdef")).toBe(false);
  });

  it.skipIf(!hasOpenssl)("matches an HMAC computed independently with openssl dgst -hmac", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "HS256", kid: "abcdef" })).toString("base64url");
    const input = `${header}.${Buffer.from(kubeconfig).toString("base64url")}`;
    const { stdout } = await execa("openssl", ["dgst", "-sha256", "-hmac", "0123456789abcdef", "-binary"], { input, encoding: "buffer", stripFinalNewline: false });
    expect(detachedJws(kubeconfig, "abcdef", "0123456789abcdef")).toBe(`${header}..${Buffer.from(stdout as Uint8Array).toString("base64url")}`);
  });
});

describe("manifests", () => {
  it("ServiceAccount with a ClusterRoleBinding, or a RoleBinding in its namespace", () => {
    const cluster = manifestObjects(serviceAccountManifest({ name: "api-service-account", namespace: "default", clusterRole: "view" }));
    expect(cluster.map((object) => object.kind)).toEqual(["ServiceAccount", "ClusterRoleBinding"]);
    expect(cluster[1]).toMatchObject({ roleRef: { kind: "ClusterRole", name: "view" }, subjects: [{ kind: "ServiceAccount", name: "api-service-account", namespace: "default" }] });
    const namespaced = manifestObjects(serviceAccountManifest({ name: "bot", namespace: "apps", clusterRole: "edit", namespaced: true }));
    expect(namespaced[1]).toMatchObject({ kind: "RoleBinding", metadata: { namespace: "apps" } });
    expect(manifestObjects(serviceAccountManifest({ name: "bot", namespace: "apps" }))).toHaveLength(1);
  });

  it("Opaque Secret with base64 values", () => {
    const [secret] = manifestObjects(opaqueSecretManifest("app", "default", { consoleApiKey: "s3cret" }));
    expect(secret).toMatchObject({ kind: "Secret", type: "Opaque", data: { consoleApiKey: Buffer.from("s3cret").toString("base64") } });
  });
});
