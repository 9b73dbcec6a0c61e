import path from "node:path";
import { stringify } from "yaml";
import { inputError, KpkiError, quoted } from "../errors.js";
import { boundedToJs, parseBoundedYaml, readBoundedSync } from "../inputbounds.js";
import { loadTemplate, renderTemplate } from "../templates.js";
import { ipFamily } from "./names.js";

export interface KubeconfigContent {
  cluster: string;
  server: string;
  /** PEM of the CA the client trusts. */
  caPem: string;
  user: string;
  clientCertPem: string;
  clientKeyPem: string;
}

/**
 * A YAML scalar: plain when that is safe, quoted when not. Names and URLs
 * (kubernetes-admin@kubernetes, https://192.0.2.10:6443) are what yaml
 * writes plain, checked here without building a YAML document for each
 * (test/unit/kubeconfig.test.ts compares the two).
 */
export function scalar(value: string): string {
  return PLAIN.test(value) && !PLAIN_BUT_NOT_A_STRING.has(value) ? value : stringify(value).trimEnd();
}

// A letter first (no number, flow or block indicator), then no space, no "#", no ": " and no ":" at the end.
const PLAIN = /^[A-Za-z](?:[A-Za-z0-9._@/+=-]|:(?=[^\s]))*$/;
// The words YAML 1.2's core schema reads as null or a boolean.
const PLAIN_BUT_NOT_A_STRING = new Set(["null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"]);
const base64 = (pem: string) => Buffer.from(pem).toString("base64");

/**
 * A kubeconfig as kubeadm writes one (client-go's layout): one cluster, one
 * user with embedded certificate and key, and a `<user>@<cluster>` context
 * that is current.
 */
export function renderKubeconfig(content: KubeconfigContent): string {
  return renderTemplate(loadTemplate("kubeconfig.yaml"), {
    ca_data: base64(content.caPem),
    server: scalar(content.server),
    cluster: scalar(content.cluster),
    user: scalar(content.user),
    context: scalar(`${content.user}@${content.cluster}`),
    cert_data: base64(content.clientCertPem),
    key_data: base64(content.clientKeyPem),
  });
}

/** What kpki reads from a kubeconfig: the current context's cluster and user, credentials resolved. */
export interface LoadedKubeconfig {
  contextName: string;
  clusterName: string;
  server: string;
  caPem?: string;
  insecureSkipTlsVerify: boolean;
  userName: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
}

type Named = { name?: unknown; [key: string]: unknown };

function findNamed(list: unknown, name: string, kind: string, label: string): Record<string, unknown> {
  const items = Array.isArray(list) ? (list as Named[]) : [];
  const item = items.find((candidate) => candidate?.name === name);
  const body = item?.[kind];
  if (!item || typeof body !== "object" || body === null) throw inputError(`${label}: the current context names ${kind} ${quoted(name)}, which is not in its ${kind}s list`);
  return body as Record<string, unknown>;
}

/**
 * Parses a kubeconfig and resolves the current (or given) context. File
 * references (certificate-authority, client-certificate, client-key) are read
 * relative to the kubeconfig's folder, as kubectl does.
 */
export function parseKubeconfig(text: string, label: string, options: { context?: string; baseDir?: string; contextFlag?: boolean } = {}): LoadedKubeconfig {
  const document = parseBoundedYaml(text, label);
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    throw inputError(`${label} is not valid YAML (line ${error.linePos?.[0]?.line ?? "?"}): ${error.message.split("\n")[0]}`);
  }
  const config = boundedToJs(document, label) as Record<string, unknown> | null;
  if (!config || typeof config !== "object" || config.kind !== "Config") throw inputError(`${label} is not a kubeconfig (no "kind: Config")`);
  const contextName = options.context ?? (typeof config["current-context"] === "string" ? config["current-context"] : "");
  // --context only where the command has it.
  if (!contextName) throw inputError(`${label} has no current-context: set one (kubectl config use-context NAME)${options.contextFlag ? " or pick one with --context" : ""}`);
  const context = findNamed(config.contexts, contextName, "context", label);
  const clusterName = String(context.cluster ?? "");
  const userName = String(context.user ?? "");
  const cluster = findNamed(config.clusters, clusterName, "cluster", label);
  const user = userName ? findNamed(config.users, userName, "user", label) : {};
  const baseDir = options.baseDir ?? ".";
  const fromData = (value: unknown) => (typeof value === "string" ? Buffer.from(value, "base64").toString("utf8") : undefined);
  const fromFile = (value: unknown, field: string) => {
    if (typeof value !== "string") return undefined;
    const file = path.resolve(baseDir, value);
    try {
      return readBoundedSync(file).toString("utf8");
    } catch (error) {
      if (error instanceof KpkiError) throw error;
      throw inputError(`${label}: ${field} names ${file}, which cannot be read`);
    }
  };
  const server = typeof cluster.server === "string" ? cluster.server : "";
  if (!server) throw inputError(`${label}: cluster ${quoted(clusterName)} has no server URL`);
  return {
    contextName,
    clusterName,
    server,
    caPem: fromData(cluster["certificate-authority-data"]) ?? fromFile(cluster["certificate-authority"], "certificate-authority"),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    userName,
    clientCertPem: fromData(user["client-certificate-data"]) ?? fromFile(user["client-certificate"], "client-certificate"),
    clientKeyPem: fromData(user["client-key-data"]) ?? fromFile(user["client-key"], "client-key"),
    token: typeof user.token === "string" ? user.token : fromFile(user.tokenFile, "tokenFile")?.trim(),
  };
}

/**
 * Points a kubeconfig's current cluster at another server, changing nothing
 * else: `server` when given, else the same scheme and port at `host` (the
 * address kpki reached the node at; the node's own file often names an
 * address only it can use).
 */
/**
 * Points a fetched admin.conf at the address kpki reached the node at, or at
 * `server`; a server that is a control-plane endpoint (a DNS name) is kept.
 */
export function rewriteServer(text: string, label: string, server: string | undefined, host: string): { text: string; server: string } {
  const loaded = parseKubeconfig(text, label);
  const document = parseBoundedYaml(text, label, { prettyErrors: true });
  const clusters = ((boundedToJs(document, label) as { clusters?: unknown }).clusters ?? []) as { name: string }[];
  const index = clusters.findIndex((cluster) => cluster.name === loaded.clusterName);
  const old = new URL(loaded.server);
  // A control-plane endpoint (a name: the load balancer) is what the API server's SANs cover: keep it.
  const endpoint = ipFamily(old.hostname.replace(/^\[|\]$/g, "")) === 0;
  const newServer = server ?? (endpoint ? loaded.server : `https://${host.includes(":") ? `[${host}]` : host}:${old.port || 443}`);
  document.setIn(["clusters", index, "cluster", "server"], newServer);
  return { text: document.toString({ indentSeq: false, lineWidth: 0 }), server: newServer };
}
