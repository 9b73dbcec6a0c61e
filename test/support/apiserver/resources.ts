/**
 * The API resources the fake serves: their group/version/kind, scope, the
 * verbs it implements (discovery lists exactly these, so kubectl never tries
 * what the fake cannot do), field-selector labels, and the server-side table
 * columns kube-apiserver prints for them (pkg/printers/internalversion).
 */

export type KubeObject = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
};

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string | null;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  [key: string]: unknown;
}

export interface TableColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format: string;
  description: string;
  priority: number;
}

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, lower case: "secrets". */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  /** Field selector labels beyond metadata.name / metadata.namespace. */
  fields?: Record<string, (object: KubeObject) => string>;
  columns: TableColumn[];
  cells: (object: KubeObject, now: Date) => unknown[];
  /** Create-time name validation (apimachinery validation). */
  nameRule: "subdomain" | "label" | "path-segment";
}

/** A sub-resource or a create-only virtual resource (reviews), listed in discovery. */
export interface VirtualResource {
  group: string;
  version: string;
  name: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  /** For sub-resources whose kind lives in another group (serviceaccounts/token → authentication.k8s.io/v1 TokenRequest). */
  kindGroup?: string;
  kindVersion?: string;
}

/** apimachinery/pkg/util/duration HumanDuration, as kubectl's AGE column shows it. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    return days === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const age = (object: KubeObject, now: Date): string => {
  const created = object.metadata.creationTimestamp;
  if (!created) return "<unknown>";
  return humanDuration(now.getTime() - Date.parse(created));
};

const column = (name: string, type: TableColumn["type"], description: string, options: { format?: string; priority?: number } = {}): TableColumn => ({
  name,
  type,
  format: options.format ?? "",
  description,
  priority: options.priority ?? 0,
});

const NAME = column("Name", "string", "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", { format: "name" });
const AGE = column("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");

const count = (value: unknown) => (value && typeof value === "object" ? Object.keys(value).length : 0);
const subjectNames = (object: KubeObject, kind: string) =>
  ((object.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? [])
    .filter((subject) => subject.kind === kind)
    .map((subject) => (kind === "ServiceAccount" ? `${subject.namespace ?? ""}/${subject.name}` : subject.name))
    .join(", ");
const bindingColumns = [
  NAME,
  column("Role", "string", "Role references the role being granted."),
  AGE,
  column("Users", "string", "Users in the binding.", { priority: 1 }),
  column("Groups", "string", "Groups in the binding.", { priority: 1 }),
  column("ServiceAccounts", "string", "ServiceAccounts in the binding.", { priority: 1 }),
];
const bindingCells = (object: KubeObject, now: Date) => {
  const roleRef = object.roleRef as { kind: string; name: string } | undefined;
  return [object.metadata.name, roleRef ? `${roleRef.kind}/${roleRef.name}` : "", age(object, now), subjectNames(object, "User"), subjectNames(object, "Group"), subjectNames(object, "ServiceAccount")];
};
const roleColumns = [NAME, column("Created At", "date", "Time when the role was created.")];
const roleCells = (object: KubeObject) => [object.metadata.name, object.metadata.creationTimestamp ?? ""];

const RBAC = "rbac.authorization.k8s.io";

export const RESOURCES: ResourceType[] = [
  {
    group: "",
    version: "v1",
    resource: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    verbs: ["create", "get", "list"],
    shortNames: ["ns"],
    fields: { "status.phase": (object) => String((object.status as { phase?: string } | undefined)?.phase ?? "") },
    columns: [NAME, column("Status", "string", "The status of the namespace"), AGE],
    cells: (object, now) => [object.metadata.name, (object.status as { phase?: string } | undefined)?.phase ?? "", age(object, now)],
    nameRule: "label",
  },
  {
    group: "",
    version: "v1",
    resource: "secrets",
    singular: "secret",
    kind: "Secret",
    namespaced: true,
    verbs: ["create", "delete", "get", "list", "update"],
    fields: { type: (object) => String(object.type ?? "") },
    columns: [
      NAME,
      column("Type", "string", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
      column("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
      AGE,
    ],
    cells: (object, now) => [object.metadata.name, object.type ?? "", count(object.data), age(object, now)],
    nameRule: "subdomain",
  },
  {
    group: "",
    version: "v1",
    resource: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    verbs: ["create", "delete", "get", "list", "update"],
    shortNames: ["cm"],
    columns: [NAME, column("Data", "string", "Data contains the configuration data."), AGE],
    cells: (object, now) => [object.metadata.name, count(object.data) + count(object.binaryData), age(object, now)],
    nameRule: "subdomain",
  },
  {
    group: "",
    version: "v1",
    resource: "serviceaccounts",
    singular: "serviceaccount",
    kind: "ServiceAccount",
    namespaced: true,
    verbs: ["create", "delete", "get", "list"],
    shortNames: ["sa"],
    columns: [NAME, column("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), AGE],
    cells: (object, now) => [object.metadata.name, Array.isArray(object.secrets) ? object.secrets.length : 0, age(object, now)],
    nameRule: "subdomain",
  },
  {
    group: "",
    version: "v1",
    resource: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    verbs: ["get", "list"],
    shortNames: ["no"],
    columns: [NAME, column("Status", "string", "The status of the node"), column("Roles", "string", "The roles of the node"), AGE, column("Version", "string", "Kubelet Version reported by the node.")],
    cells: (object, now) => [
      object.metadata.name,
      "Ready",
      Object.keys(object.metadata.labels ?? {})
        .filter((label) => label.startsWith("node-role.kubernetes.io/"))
        .map((label) => label.slice("node-role.kubernetes.io/".length))
        .join(",") || "<none>",
      age(object, now),
      (object.status as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo?.kubeletVersion ?? "",
    ],
    nameRule: "subdomain",
  },
  {
    group: RBAC,
    version: "v1",
    resource: "clusterrolebindings",
    singular: "clusterrolebinding",
    kind: "ClusterRoleBinding",
    namespaced: false,
    verbs: ["create", "delete", "get", "list"],
    columns: bindingColumns,
    cells: bindingCells,
    nameRule: "path-segment",
  },
  {
    group: RBAC,
    version: "v1",
    resource: "rolebindings",
    singular: "rolebinding",
    kind: "RoleBinding",
    namespaced: true,
    verbs: ["create", "delete", "get", "list"],
    columns: bindingColumns,
    cells: bindingCells,
    nameRule: "path-segment",
  },
  {
    group: RBAC,
    version: "v1",
    resource: "clusterroles",
    singular: "clusterrole",
    kind: "ClusterRole",
    namespaced: false,
    verbs: ["get", "list"],
    columns: roleColumns,
    cells: roleCells,
    nameRule: "path-segment",
  },
  {
    group: RBAC,
    version: "v1",
    resource: "roles",
    singular: "role",
    kind: "Role",
    namespaced: true,
    verbs: ["get", "list"],
    columns: roleColumns,
    cells: roleCells,
    nameRule: "path-segment",
  },
  {
    group: "certificates.k8s.io",
    version: "v1",
    resource: "certificatesigningrequests",
    singular: "certificatesigningrequest",
    kind: "CertificateSigningRequest",
    namespaced: false,
    verbs: ["create", "get", "list"],
    shortNames: ["csr"],
    fields: { "spec.signerName": (object) => String((object.spec as { signerName?: string } | undefined)?.signerName ?? "") },
    columns: [NAME, AGE, column("SignerName", "string", "The name of the signer"), column("Requestor", "string", "Name of the requestor"), column("Condition", "string", "Condition of the request")],
    cells: (object, now) => {
      const spec = (object.spec ?? {}) as { signerName?: string; username?: string };
      const conditions = ((object.status as { conditions?: { type: string }[] } | undefined)?.conditions ?? []).map((condition) => condition.type);
      return [object.metadata.name, age(object, now), spec.signerName ?? "", spec.username ?? "", conditions.length ? conditions.join(",") : "Pending"];
    },
    nameRule: "subdomain",
  },
];

export const VIRTUAL_RESOURCES: VirtualResource[] = [
  { group: "", version: "v1", name: "serviceaccounts/token", singular: "", kind: "TokenRequest", namespaced: true, verbs: ["create"], kindGroup: "authentication.k8s.io", kindVersion: "v1" },
  { group: "authentication.k8s.io", version: "v1", name: "selfsubjectreviews", singular: "selfsubjectreview", kind: "SelfSubjectReview", namespaced: false, verbs: ["create"] },
  { group: "authentication.k8s.io", version: "v1beta1", name: "selfsubjectreviews", singular: "selfsubjectreview", kind: "SelfSubjectReview", namespaced: false, verbs: ["create"] },
  { group: "authorization.k8s.io", version: "v1", name: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", kind: "SelfSubjectAccessReview", namespaced: false, verbs: ["create"] },
];

export function findResource(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCES.find((type) => type.group === group && type.version === version && type.resource === resource);
}

export const resourceByName = (resource: string): ResourceType => {
  const type = RESOURCES.find((candidate) => candidate.resource === resource);
  if (!type) throw new Error(`the test apiserver has no resource ${resource}`);
  return type;
};

export const apiVersionOf = (type: { group: string; version: string }) => (type.group ? `${type.group}/${type.version}` : type.version);

// Name validation (k8s.io/apimachinery/pkg/util/validation).
const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;

/** The validation message for a bad name, or undefined when it is fine. */
export function nameProblem(rule: ResourceType["nameRule"], name: string): string | undefined {
  if (rule === "path-segment") {
    // path.IsValidPathSegmentName (RBAC names).
    if (name === "." || name === "..") return `may not be '${name}'`;
    for (const illegal of ["/", "%"]) if (name.includes(illegal)) return `may not contain '${illegal}'`;
    return undefined;
  }
  if (rule === "label") {
    if (name.length > 63) return "must be no more than 63 characters";
    if (!new RegExp(`^${DNS1123_LABEL}$`).test(name))
      return `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`;
    return undefined;
  }
  if (name.length > 253) return "must be no more than 253 characters";
  if (!new RegExp(`^${DNS1123_SUBDOMAIN}$`).test(name))
    return `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`;
  return undefined;
}
