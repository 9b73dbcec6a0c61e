import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import type { KubeObject } from "./resources.js";
import type { ObjectStore } from "./store.js";

/**
 * Service-account tokens as kube-apiserver issues (TokenRequest) and checks
 * them (pkg/serviceaccount/jwt.go and claims.go), with the issuer and API
 * audience kubeadm configures (--service-account-issuer
 * https://kubernetes.default.svc.cluster.local; --api-audiences defaults to
 * the issuer). Only bound (TokenRequest) tokens: no legacy Secret-based tokens.
 */

export const SA_ISSUER = "https://kubernetes.default.svc.cluster.local";
export const API_AUDIENCES = [SA_ISSUER];
/** go-jose jwt.DefaultLeeway, used by claims.Validate for exp/nbf/iat. */
const LEEWAY_MS = 60_000;

export interface ServiceAccountKeys {
  publicKey: KeyObject;
  privateKey?: KeyObject;
  /** keyIDFromPublicKey: base64url(SHA-256(DER SubjectPublicKeyInfo)), no padding. */
  keyId: string;
}

export function serviceAccountKeys(publicKeyPem?: string | Buffer, privateKeyPem?: string | Buffer): ServiceAccountKeys | undefined {
  if (!publicKeyPem && !privateKeyPem) return undefined;
  const privateKey = privateKeyPem ? createPrivateKey(privateKeyPem) : undefined;
  const publicKey = publicKeyPem ? createPublicKey(publicKeyPem) : createPublicKey(privateKey!);
  const keyId = createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64url");
  return { publicKey, privateKey, keyId };
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export interface IssuedToken {
  token: string;
  expirationTimestamp: Date;
  claims: Record<string, unknown>;
}

/**
 * serviceaccount.Claims + jwtTokenGenerator: header {"alg":"RS256","kid":…};
 * claims (sorted, as go-jose marshals its claim map) aud, exp, iat, iss, jti,
 * kubernetes.io {namespace, serviceaccount {name, uid}}, nbf, sub.
 */
export function issueServiceAccountToken(keys: ServiceAccountKeys, serviceAccount: KubeObject, options: { now: Date; expirationSeconds: number; audiences: string[] }): IssuedToken {
  if (!keys.privateKey) throw new Error("the test apiserver has no service-account signing key (saPrivateKeyPem)");
  const iat = Math.floor(options.now.getTime() / 1000);
  const exp = iat + options.expirationSeconds;
  const claims = {
    aud: options.audiences,
    exp,
    iat,
    iss: SA_ISSUER,
    jti: randomUUID(),
    "kubernetes.io": {
      namespace: serviceAccount.metadata.namespace,
      serviceaccount: { name: serviceAccount.metadata.name, uid: serviceAccount.metadata.uid },
    },
    nbf: iat,
    sub: `system:serviceaccount:${serviceAccount.metadata.namespace}:${serviceAccount.metadata.name}`,
  };
  const input = `${b64json({ alg: "RS256", kid: keys.keyId })}.${b64json(claims)}`;
  const signature = sign("RSA-SHA256", Buffer.from(input), keys.privateKey).toString("base64url");
  return { token: `${input}.${signature}`, expirationTimestamp: new Date(exp * 1000), claims };
}

export interface ServiceAccountIdentity {
  name: string;
  uid: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** Why a JWT was not accepted. "not-ours" means the SA authenticator ignored it (wrong shape or issuer); the server still answers 401. */
export type ServiceAccountRejection = "not-ours" | "bad-signature" | "wrong-audience" | "expired" | "not-yet-valid" | "issued-in-future" | "no-service-account" | "service-account-deleted" | "uid-mismatch" | "bad-claims";

const RAW_URL_B64 = /^[A-Za-z0-9_-]*$/;
const decodeSegment = (segment: string): unknown => {
  if (!RAW_URL_B64.test(segment) || segment.length % 4 === 1) throw new Error("bad base64url");
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
};

/**
 * jwtTokenAuthenticator.AuthenticateToken + validator.Validate: issuer
 * pre-check on the unverified payload (else "not ours"), RS256 signature by
 * the key (kid, when given, must be ours), issuer, audiences intersecting the
 * API audiences (none in the token: legacy, implicit audiences), exp/nbf/iat
 * with one minute of leeway, then the ServiceAccount must exist, not be
 * deleted (more than a minute ago) and have the uid in the token.
 * Identity: system:serviceaccount:<ns>:<name>, uid, groups
 * system:serviceaccounts and system:serviceaccounts:<ns>; extra
 * authentication.kubernetes.io/credential-id ["JTI=<jti>"] when the token has
 * a jti (ServiceAccountTokenJTI, on by default since 1.30 — from memory, not
 * checked in a stored source).
 */
export function authenticateServiceAccountToken(token: string, keys: ServiceAccountKeys | undefined, store: ObjectStore, now: Date): { identity: ServiceAccountIdentity } | { rejected: ServiceAccountRejection } {
  if (token.trim().startsWith("{")) return { rejected: "not-ours" };
  const parts = token.split(".");
  if (parts.length !== 3) return { rejected: "not-ours" };
  let header: { alg?: string; kid?: string };
  let claims: Record<string, unknown>;
  try {
    claims = decodeSegment(parts[1]!) as Record<string, unknown>;
    if (!claims || typeof claims !== "object" || claims.iss !== SA_ISSUER) return { rejected: "not-ours" };
    header = decodeSegment(parts[0]!) as { alg?: string; kid?: string };
  } catch {
    return { rejected: "not-ours" };
  }
  if (!keys) return { rejected: "bad-signature" };
  if (header.kid && header.kid !== keys.keyId) return { rejected: "bad-signature" };
  if (header.alg !== "RS256" || !RAW_URL_B64.test(parts[2]!)) return { rejected: "bad-signature" };
  if (!verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), keys.publicKey, Buffer.from(parts[2]!, "base64url"))) return { rejected: "bad-signature" };

  const audiences = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud)];
  const effective = audiences.length ? audiences : API_AUDIENCES;
  if (!effective.some((audience) => API_AUDIENCES.includes(audience))) return { rejected: "wrong-audience" };

  const t = now.getTime();
  const seconds = (name: string) => (typeof claims[name] === "number" ? (claims[name] as number) * 1000 : undefined);
  const nbf = seconds("nbf");
  const exp = seconds("exp");
  const iat = seconds("iat");
  if (nbf !== undefined && t + LEEWAY_MS < nbf) return { rejected: "not-yet-valid" };
  if (exp !== undefined && t - LEEWAY_MS > exp) return { rejected: "expired" };
  if (iat !== undefined && t + LEEWAY_MS < iat) return { rejected: "issued-in-future" };

  const kubernetes = claims["kubernetes.io"] as { namespace?: string; serviceaccount?: { name?: string; uid?: string } } | undefined;
  const namespace = kubernetes?.namespace ?? "";
  const name = kubernetes?.serviceaccount?.name ?? "";
  if (!namespace || !name) return { rejected: "bad-claims" };
  const serviceAccount = store.get("serviceaccounts", namespace, name);
  if (!serviceAccount) return { rejected: "no-service-account" };
  const deletion = serviceAccount.metadata.deletionTimestamp;
  if (deletion && Date.parse(deletion) < t - LEEWAY_MS) return { rejected: "service-account-deleted" };
  if (serviceAccount.metadata.uid !== (kubernetes?.serviceaccount?.uid ?? "")) return { rejected: "uid-mismatch" };

  const identity: ServiceAccountIdentity = {
    name: `system:serviceaccount:${namespace}:${name}`,
    uid: serviceAccount.metadata.uid!,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`],
  };
  if (typeof claims.jti === "string" && claims.jti) identity.extra = { "authentication.kubernetes.io/credential-id": [`JTI=${claims.jti}`] };
  return { identity };
}
