import { durationOrProblem } from "../../duration.js";
import { KpkiError } from "../../errors.js";
import { CHARSETS, randomString } from "./random.js";

/** cluster-bootstrap's rules (kubeadm-facts §3.1). */
export const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const TOKEN_ID_PATTERN = /^[a-z0-9]{6}$/;
export const EXTRA_GROUP_PATTERN = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
export const TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token";
export const TOKEN_USAGES = ["signing", "authentication"] as const;
export type TokenUsage = (typeof TOKEN_USAGES)[number];
export const DEFAULT_GROUPS = ["system:bootstrappers:kubeadm:default-node-token"];

export interface BootstrapToken {
  id: string;
  secret: string;
}

export const tokenText = (token: BootstrapToken) => `${token.id}.${token.secret}`;
export const secretName = (id: string) => `bootstrap-token-${id}`;

/**
 * Parses a token, explaining what is wrong without ever repeating the secret
 * half (it may be a real token with a typo).
 */
export function parseToken(text: string, flag = "--token"): BootstrapToken {
  const value = text.trim();
  const match = value.match(TOKEN_PATTERN);
  if (match) return { id: match[1]!, secret: match[2]! };
  const [id = "", secret, ...rest] = value.split(".");
  let why: string;
  if (secret === undefined) why = "it has no \".\" between the 6-character id and the 16-character secret";
  else if (rest.length > 0) why = "it has more than one \".\"";
  else if (/[A-Z]/.test(value)) why = "it has upper-case letters; tokens use only a-z and 0-9";
  else if (id.length !== 6) why = `its id has ${id.length} characters, not 6`;
  else if (secret.length !== 16) why = `its secret has ${secret.length} characters, not 16`;
  else why = "it has characters other than a-z and 0-9";
  throw new KpkiError("input", `${flag} is not a bootstrap token (${why}): the form is [a-z0-9]{6}.[a-z0-9]{16}, e.g. 07401b.f395accd246ae52d`);
}

export function generateToken(): BootstrapToken {
  return { id: randomString(6, CHARSETS.token), secret: randomString(16, CHARSETS.token) };
}

/** "24h", "1.5h", "2h30m", "1d", "0" (never expires) → milliseconds, as kubeadm's --ttl reads (Go's syntax). */
export function parseTtl(text: string, flag = "--ttl"): number {
  const result = durationOrProblem(flag, text, "24h, 1.5h, 2h30m, or 0 for a token that never expires");
  if ("message" in result) throw new KpkiError("usage", result.message);
  return result.ms;
}

export function checkUsages(usages: readonly string[]): TokenUsage[] {
  for (const usage of usages) {
    if (!(TOKEN_USAGES as readonly string[]).includes(usage)) {
      throw new KpkiError("usage", `--usages "${usage}" is not a bootstrap token usage: use signing, authentication or both`);
    }
  }
  if (usages.length === 0) throw new KpkiError("usage", "--usages is empty: give signing, authentication or both");
  return [...new Set(usages)] as TokenUsage[];
}

export function checkGroups(groups: readonly string[]): string[] {
  for (const group of groups) {
    if (!EXTRA_GROUP_PATTERN.test(group)) {
      throw new KpkiError("usage", `--groups "${group}" is not a valid extra group: it must match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`);
    }
  }
  return [...groups];
}

export interface TokenSpec {
  token: BootstrapToken;
  /** Undefined: never expires. */
  expires?: Date;
  usages: readonly TokenUsage[];
  groups: readonly string[];
  description?: string;
}

/** The Secret's data, as kubeadm encodes it (encodeTokenSecretData): plain strings, base64'd by the caller. */
export function tokenSecretData(spec: TokenSpec): Record<string, string> {
  const data: Record<string, string> = { "token-id": spec.token.id, "token-secret": spec.token.secret };
  if (spec.description) data.description = spec.description;
  if (spec.expires) data.expiration = spec.expires.toISOString().replace(/\.\d{3}Z$/, "Z");
  for (const usage of spec.usages) data[`usage-bootstrap-${usage}`] = "true";
  if (spec.groups.length > 0) data["auth-extra-groups"] = spec.groups.join(",");
  return data;
}

/** A token as read back from its Secret. */
export interface TokenInfo {
  id: string;
  secret?: string;
  expires?: Date;
  usages: string[];
  groups: string[];
  description?: string;
  /** Why this Secret would not authenticate, if it would not. */
  problems: string[];
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A bootstrap-token Secret as the API server answered it. Whatever the
 * answer holds (it is the server's word, not a typed object), this gives a
 * token whose `problems` say what is wrong with it.
 */
export function tokenFromSecret(secret: unknown, now = new Date()): TokenInfo {
  const object = isRecord(secret) ? secret : {};
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : "";
  const data: Record<string, string> = Object.create(null);
  const notText: string[] = [];
  for (const [key, value] of Object.entries(isRecord(object.data) ? object.data : {})) {
    if (typeof value === "string") data[key] = Buffer.from(value, "base64").toString("utf8");
    else notText.push(key);
  }
  const id = data["token-id"] ?? name.replace(/^bootstrap-token-/, "");
  const expires = data.expiration ? new Date(data.expiration) : undefined;
  const usages = TOKEN_USAGES.filter((usage) => data[`usage-bootstrap-${usage}`] === "true");
  const groups = data["auth-extra-groups"] ? data["auth-extra-groups"].split(",") : [];
  const problems: string[] = [];
  if (!isRecord(secret)) problems.push("the API server's answer is not a Secret object");
  if (notText.length > 0) problems.push(`its data ${notText.join(", ")} ${notText.length === 1 ? "is" : "are"} not base64 text`);
  if (object.type !== TOKEN_SECRET_TYPE) problems.push(`its Secret's type is "${typeof object.type === "string" ? object.type : ""}", not ${TOKEN_SECRET_TYPE}`);
  if (metadata.deletionTimestamp) problems.push("its Secret is being deleted");
  if (name !== secretName(id)) problems.push(`its token-id "${id}" does not match the Secret's name`);
  if (expires && Number.isNaN(expires.getTime())) problems.push(`its expiration "${data.expiration}" is not an RFC 3339 time`);
  else if (expires && expires <= now) problems.push(`it expired at ${expires.toISOString()}`);
  if (!usages.includes("authentication")) problems.push("usage-bootstrap-authentication is not \"true\": it may only sign cluster-info, not authenticate");
  const badGroups = groups.filter((group) => !EXTRA_GROUP_PATTERN.test(group));
  if (badGroups.length > 0) problems.push(`its auth-extra-groups ${badGroups.join(", ")} are invalid`);
  return { id, secret: data["token-secret"], expires, usages, groups, description: data.description, problems };
}
