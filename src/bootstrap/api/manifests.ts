import { parseAllDocuments, stringify } from "yaml";
import { loadTemplate, renderTemplate } from "../../templates.js";
import { tokenSecretData, type TokenSpec } from "./token.js";

const scalar = (value: string) => stringify(value).trimEnd();
// Values always double-quoted: "true" and RFC 3339 times must stay strings for every YAML reader.
const mapLines = (entries: Record<string, string>, indent = "  ") =>
  Object.entries(entries)
    .map(([key, value]) => `${indent}${key}: ${JSON.stringify(value)}`)
    .join("\n");

/** Parses rendered YAML documents into API objects. */
export function manifestObjects(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Record<string, unknown> | null)
    .filter((object): object is Record<string, unknown> => object !== null);
}

/** The bootstrap-token Secret as a manifest (templates/bootstrap-token-secret.yaml). */
export function tokenSecretManifest(spec: TokenSpec): string {
  return renderTemplate(loadTemplate("bootstrap-token-secret.yaml"), { id: spec.token.id, data: mapLines(tokenSecretData(spec)) });
}

/** The same Secret as the API object kpki posts: stringData made data, as the API server stores it. */
export function tokenSecretObject(spec: TokenSpec): Record<string, unknown> {
  const [secret] = manifestObjects(tokenSecretManifest(spec)) as [{ stringData: Record<string, string> } & Record<string, unknown>];
  const { stringData, ...rest } = secret;
  return { ...rest, data: Object.fromEntries(Object.entries(stringData).map(([key, value]) => [key, Buffer.from(value).toString("base64")])) };
}

export interface ServiceAccountSpec {
  name: string;
  namespace: string;
  /** Bind this ClusterRole to the account: cluster-wide, or in its namespace with `namespaced`. */
  clusterRole?: string;
  namespaced?: boolean;
}

/** ServiceAccount (+ ClusterRoleBinding or RoleBinding) manifests (templates/serviceaccount.yaml). */
export function serviceAccountManifest(spec: ServiceAccountSpec): string {
  const bindingName = spec.namespaced ? `${spec.name}-${spec.clusterRole}` : `${spec.namespace}-${spec.name}-${spec.clusterRole}`;
  return renderTemplate(loadTemplate("serviceaccount.yaml"), {
    name: scalar(spec.name),
    namespace: scalar(spec.namespace),
    clusterrole: spec.clusterRole ? scalar(spec.clusterRole) : "",
    binding_kind: spec.namespaced ? "RoleBinding" : "ClusterRoleBinding",
    binding_name: scalar(bindingName),
    binding_namespace: spec.namespaced ? `  namespace: ${scalar(spec.namespace)}\n` : "",
  });
}

/** An Opaque Secret manifest with base64 data (templates/secret.yaml). */
export function opaqueSecretManifest(name: string, namespace: string, values: Record<string, string>): string {
  return renderTemplate(loadTemplate("secret.yaml"), {
    name: scalar(name),
    namespace: scalar(namespace),
    data: mapLines(Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString("base64")]))),
  });
}
