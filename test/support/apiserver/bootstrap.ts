import { createHmac, timingSafeEqual } from "node:crypto";
import type { KubeObject } from "./resources.js";
import { rfc3339, type ObjectStore } from "./store.js";

/**
 * Bootstrap tokens as kube-apiserver and kube-controller-manager treat them,
 * following /work/shared/reference/kubeadm-facts.md §3 and §4 (which cite
 * k8s.io/cluster-bootstrap, plugin/pkg/auth/authenticator/token/bootstrap and
 * pkg/controller/bootstrap).
 */

// §3.1: token-id.token-secret (Go's \A…\z; JS `$` without the m flag is end of input).
export const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
// §3.1: auth-extra-groups entries.
export const EXTRA_GROUP_RE = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
// cluster-bootstrap/util/secrets ParseName.
const SECRET_NAME_RE = /^bootstrap-token-([a-z0-9]{6})$/;

export const BOOTSTRAP_SECRET_TYPE = "bootstrap.kubernetes.io/token";
export const BOOTSTRAP_DEFAULT_GROUP = "system:bootstrappers";
export const BOOTSTRAP_USER_PREFIX = "system:bootstrap:";

/** secrets.GetData: the decoded value of data[key], "" when absent. */
export function getData(secret: KubeObject, key: string): string {
  const data = secret.data as Record<string, string> | undefined;
  const value = data?.[key];
  return value === undefined ? "" : Buffer.from(value, "base64").toString("latin1");
}

/**
 * Go's time.Parse(time.RFC3339, …): "2006-01-02T15:04:05Z07:00"; fractional
 * seconds are accepted after the seconds even though the layout has none.
 * NaN for anything Go would reject.
 */
export function parseGoRfc3339(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!match) return Number.NaN;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const y = Number(year);
  const mo = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  const daysIn = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn || h > 23 || mi > 59 || s > 59) return Number.NaN;
  let offset = 0;
  if (zone !== "Z") {
    const zh = Number(zone!.slice(1, 3));
    const zm = Number(zone!.slice(4, 6));
    if (zh > 23 || zm > 59) return Number.NaN;
    offset = (zone!.startsWith("-") ? -1 : 1) * (zh * 60 + zm) * 60_000;
  }
  const millis = fraction ? Number(`0${fraction}`) * 1000 : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s) + millis - offset;
}

/** secrets.HasExpired: no expiration never expires; an unparseable one counts as expired; expired when remaining <= 0. */
export function hasExpired(secret: KubeObject, now: Date): boolean {
  const expiration = getData(secret, "expiration");
  if (expiration === "") return false;
  const at = parseGoRfc3339(expiration);
  if (Number.isNaN(at)) return true;
  return at - now.getTime() <= 0;
}

/** crypto/subtle.ConstantTimeCompare: lengths differ → unequal at once; otherwise a constant-time compare. */
function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "latin1");
  const right = Buffer.from(b, "latin1");
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}

export interface BootstrapIdentity {
  name: string;
  groups: string[];
}

/** Why a bootstrap token was not accepted; the server answers 401 whatever it is (kept for tests' diagnostics). */
export type BootstrapRejection =
  | "malformed"
  | "no-secret"
  | "being-deleted"
  | "wrong-type"
  | "wrong-secret"
  | "wrong-token-id"
  | "expired"
  | "not-for-authentication"
  | "invalid-extra-groups";

/**
 * §3.2, bootstrap.go AuthenticateToken, check by check and in its order.
 * Groups: secrets.GetGroups — system:bootstrappers plus auth-extra-groups,
 * deduplicated and sorted (sets.String.List()); system:authenticated is added
 * later by the server for every authenticated user.
 */
export function authenticateBootstrapToken(token: string, store: ObjectStore, now: Date): { identity: BootstrapIdentity } | { rejected: BootstrapRejection } {
  const match = TOKEN_RE.exec(token);
  if (!match) return { rejected: "malformed" };
  const [, tokenId, tokenSecret] = match as unknown as [string, string, string];
  const secret = store.get("secrets", "kube-system", `bootstrap-token-${tokenId}`);
  if (!secret) return { rejected: "no-secret" };
  if (secret.metadata.deletionTimestamp) return { rejected: "being-deleted" };
  if (secret.type !== BOOTSTRAP_SECRET_TYPE || !secret.data) return { rejected: "wrong-type" };
  if (!constantTimeEqual(getData(secret, "token-secret"), tokenSecret)) return { rejected: "wrong-secret" };
  const id = getData(secret, "token-id");
  if (id !== tokenId) return { rejected: "wrong-token-id" };
  if (hasExpired(secret, now)) return { rejected: "expired" };
  if (getData(secret, "usage-bootstrap-authentication") !== "true") return { rejected: "not-for-authentication" };
  const groups = new Set([BOOTSTRAP_DEFAULT_GROUP]);
  const extra = getData(secret, "auth-extra-groups");
  if (extra !== "") {
    for (const group of extra.split(",")) {
      if (!EXTRA_GROUP_RE.test(group)) return { rejected: "invalid-extra-groups" };
      groups.add(group);
    }
  }
  return { identity: { name: `${BOOTSTRAP_USER_PREFIX}${id}`, groups: [...groups].sort() } };
}

const b64url = (text: string | Buffer) => Buffer.from(text).toString("base64url");

/**
 * §4, cluster-bootstrap/token/jws ComputeDetachedSignature: a compact JWS with
 * the payload removed, `<b64url(header)>..<b64url(sig)>`, header exactly
 * {"alg":"HS256","kid":"<tokenid>"}, HMAC-SHA256 over
 * b64url(header) + "." + b64url(content) keyed with the token SECRET only.
 * (go-jose v4 zero-pads the key to 32 bytes; HMAC pads keys shorter than the
 * block size with zeros anyway, so the output is the same — §4.)
 */
export function detachedJws(content: string, tokenId: string, tokenSecret: string): string {
  const header = b64url(JSON.stringify({ alg: "HS256", kid: tokenId }));
  const signature = createHmac("sha256", Buffer.from(tokenSecret, "latin1")).update(`${header}.${b64url(content)}`).digest("base64url");
  return `${header}..${signature}`;
}

/**
 * pkg/controller/bootstrap/util.go validateSecretForSigning over the
 * bootstrap-type Secrets of kube-system: name bootstrap-token-<id> with the
 * same token-id in data, a non-empty token-secret, not expired,
 * usage-bootstrap-signing == "true". (Deletion in progress is not checked
 * there, so neither here.) Returns token id → token secret.
 */
export function signingTokens(store: ObjectStore, now: Date): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const secret of store.list("secrets", "kube-system")) {
    if (secret.type !== BOOTSTRAP_SECRET_TYPE) continue;
    const nameId = SECRET_NAME_RE.exec(secret.metadata.name ?? "")?.[1];
    if (!nameId) continue;
    const tokenId = getData(secret, "token-id");
    if (!tokenId || tokenId !== nameId) continue;
    const tokenSecret = getData(secret, "token-secret");
    if (!tokenSecret) continue;
    if (hasExpired(secret, now)) continue;
    if (getData(secret, "usage-bootstrap-signing") !== "true") continue;
    if (!tokens.has(tokenId)) tokens.set(tokenId, tokenSecret);
  }
  return tokens;
}

/**
 * The BootstrapSigner's view of a cluster-info ConfigMap (§4,
 * bootstrapsigner.go signConfigMap): every jws-kubeconfig-* key dropped, then
 * one per signing token over data.kubeconfig. Nothing when there is no
 * kubeconfig key. The real controller writes this back some time after a
 * token changes (kubeadm join polls for it); the fake computes it on every
 * read, so there is no lag.
 */
export function signClusterInfo(configMap: KubeObject, store: ObjectStore, now: Date): KubeObject {
  const data = { ...((configMap.data as Record<string, string> | undefined) ?? {}) };
  const content = data.kubeconfig;
  if (content === undefined) return configMap;
  for (const key of Object.keys(data)) if (key.startsWith("jws-kubeconfig-")) delete data[key];
  for (const [tokenId, tokenSecret] of signingTokens(store, now)) data[`jws-kubeconfig-${tokenId}`] = detachedJws(content, tokenId, tokenSecret);
  return { ...configMap, data };
}

/**
 * The kubeconfig kubeadm puts in kube-public/cluster-info (§4,
 * phases/bootstraptoken/clusterinfo): admin.conf's cluster copied under the
 * name "", no users or contexts, written by clientcmd.Write — whose YAML has
 * this shape in real clusters (`contexts: null`, `current-context: ""`,
 * `preferences: {}`, `users: null`).
 */
export function clusterInfoKubeconfig(server: string, caPem: string | Buffer): string {
  return [
    "apiVersion: v1",
    "clusters:",
    "- cluster:",
    `    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
    `    server: ${server}`,
    '  name: ""',
    "contexts: null",
    'current-context: ""',
    "kind: Config",
    "preferences: {}",
    "users: null",
    "",
  ].join("\n");
}

export interface BootstrapTokenSpec {
  /** 6 characters [a-z0-9] (not checked: tests may store bad ones on purpose). */
  id: string;
  /** 16 characters [a-z0-9] (not checked either). */
  secret: string;
  /** A Date (written as RFC 3339 UTC) or a raw string (to store an unparseable one); omitted: never expires. */
  expiration?: Date | string;
  /** e.g. ["signing", "authentication"] → usage-bootstrap-signing: "true", usage-bootstrap-authentication: "true". */
  usages?: string[];
  /** auth-extra-groups, joined with "," (kubeadm's encodeTokenSecretData). */
  groups?: string[];
  description?: string;
  /** Override the Secret type (default bootstrap.kubernetes.io/token). */
  type?: string;
}

/** A Secret exactly as `kubeadm token create` writes it (§3.1: name, namespace, type, data keys). */
export function bootstrapTokenSecret(spec: BootstrapTokenSpec): KubeObject {
  const data: Record<string, string> = { "token-id": spec.id, "token-secret": spec.secret };
  if (spec.description !== undefined) data.description = spec.description;
  if (spec.expiration !== undefined) data.expiration = typeof spec.expiration === "string" ? spec.expiration : rfc3339(spec.expiration);
  for (const usage of spec.usages ?? []) data[`usage-bootstrap-${usage}`] = "true";
  if (spec.groups?.length) data["auth-extra-groups"] = spec.groups.join(",");
  return {
    metadata: { name: `bootstrap-token-${spec.id}`, namespace: "kube-system" },
    type: spec.type ?? BOOTSTRAP_SECRET_TYPE,
    data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, "utf8").toString("base64")])),
  };
}
