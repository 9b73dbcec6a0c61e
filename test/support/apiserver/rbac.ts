import type { KubeObject } from "./resources.js";
import type { ObjectStore } from "./store.js";

/**
 * A small RBAC model: kube-apiserver with --authorization-mode=Node,RBAC as
 * kubeadm runs it, minus the Node authorizer. The privileged-group shortcut
 * for system:masters, then every ClusterRoleBinding and (for namespaced
 * requests) every RoleBinding of the request's namespace in the store, with
 * the rule matching of pkg/apis/rbac/v1/evaluation_helpers.go. Bindings made
 * through the API take effect at once (no informer lag). Not modelled:
 * escalation checks on creating bindings, aggregation (the aggregated roles
 * below are written out), the Node authorizer (kubelet identities get only
 * what RBAC grants them).
 */

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface RequestAttributes {
  user: { name: string; groups: string[] };
  verb: string;
  resourceRequest: boolean;
  /** Non-resource requests: the URL path. */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Decision {
  allowed: boolean;
  /** For a denial: the Forbidden message's detail (forbiddenMessage + RBAC's reason), e.g. `User "x" cannot list resource "namespaces" in API group "" at the cluster scope`. */
  message: string;
  /** What allowed it, for tests: `ClusterRoleBinding "name" of ClusterRole "role"`, … */
  by?: string;
}

const RBAC_GROUP = "rbac.authorization.k8s.io";
const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];
const ALL_RBAC = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

// The default ClusterRoles (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go), the aggregated
// view/edit/admin written out; trimmed to the core of each (this fake serves few resources).
const VIEW_RULES: PolicyRule[] = [
  { apiGroups: [""], resources: ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"], verbs: READ },
  { apiGroups: [""], resources: ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], verbs: READ },
  { apiGroups: [""], resources: ["namespaces"], verbs: READ },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: READ },
  { apiGroups: ["apps"], resources: ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"], verbs: READ },
  { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], verbs: READ },
  { apiGroups: ["batch"], resources: ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], verbs: READ },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets", "poddisruptionbudgets/status"], verbs: READ },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "ingresses/status", "networkpolicies"], verbs: READ },
];
const EDIT_RULES: PolicyRule[] = [
  ...VIEW_RULES,
  { apiGroups: [""], resources: ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], verbs: READ },
  { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] },
  { apiGroups: [""], resources: ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], verbs: WRITE },
  { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
  { apiGroups: [""], resources: ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], verbs: WRITE },
  { apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] },
  { apiGroups: ["apps"], resources: ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"], verbs: WRITE },
  { apiGroups: ["batch"], resources: ["cronjobs", "jobs"], verbs: WRITE },
];
const ADMIN_RULES: PolicyRule[] = [
  ...EDIT_RULES,
  { apiGroups: ["authorization.k8s.io"], resources: ["localsubjectaccessreviews"], verbs: ["create"] },
  { apiGroups: [RBAC_GROUP], resources: ["rolebindings", "roles"], verbs: ALL_RBAC },
];

const clusterRole = (name: string, rules: PolicyRule[], labels: Record<string, string> = { "kubernetes.io/bootstrapping": "rbac-defaults" }): KubeObject => ({
  metadata: { name, labels, annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" } },
  rules,
});
const role = (namespace: string, name: string, rules: PolicyRule[]): KubeObject => ({ metadata: { name, namespace }, rules });
const group = (name: string): Subject => ({ kind: "Group", name, apiGroup: RBAC_GROUP });
const user = (name: string): Subject => ({ kind: "User", name, apiGroup: RBAC_GROUP });
const binding = (name: string, roleRef: { kind: "ClusterRole" | "Role"; name: string }, subjects: Subject[], namespace?: string): KubeObject => ({
  metadata: namespace ? { name, namespace } : { name },
  roleRef: { apiGroup: RBAC_GROUP, kind: roleRef.kind, name: roleRef.name },
  subjects,
});

const NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token";

/** What a fresh kubeadm cluster has: the defaults kube-apiserver reconciles plus kubeadm's bindings (kubeadm-facts §2, §3.3). */
export function defaultRbac(): { clusterRoles: KubeObject[]; clusterRoleBindings: KubeObject[]; roles: KubeObject[]; roleBindings: KubeObject[] } {
  const aggregateLabels = (to: string) => ({ "kubernetes.io/bootstrapping": "rbac-defaults", [`rbac.authorization.k8s.io/aggregate-to-${to}`]: "true" });
  return {
    clusterRoles: [
      clusterRole("cluster-admin", [
        { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
        { nonResourceURLs: ["*"], verbs: ["*"] },
      ]),
      clusterRole("admin", ADMIN_RULES),
      clusterRole("edit", EDIT_RULES, aggregateLabels("admin")),
      clusterRole("view", VIEW_RULES, aggregateLabels("edit")),
      clusterRole("system:discovery", [{ nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], verbs: ["get"] }]),
      clusterRole("system:public-info-viewer", [{ nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"], verbs: ["get"] }]),
      clusterRole("system:basic-user", [
        { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], verbs: ["create"] },
        { apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], verbs: ["create"] },
      ]),
      clusterRole("system:node-bootstrapper", [{ apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["create", "get", "list", "watch"] }]),
      clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [{ apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/nodeclient"], verbs: ["create"] }]),
      clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [{ apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/selfnodeclient"], verbs: ["create"] }]),
      // kubeadm's own (phases/bootstraptoken/node): get nodes for the node-token group.
      { metadata: { name: "kubeadm:get-nodes" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }] },
    ],
    clusterRoleBindings: [
      binding("cluster-admin", { kind: "ClusterRole", name: "cluster-admin" }, [group("system:masters")]),
      binding("system:discovery", { kind: "ClusterRole", name: "system:discovery" }, [group("system:authenticated")]),
      binding("system:basic-user", { kind: "ClusterRole", name: "system:basic-user" }, [group("system:authenticated")]),
      binding("system:public-info-viewer", { kind: "ClusterRole", name: "system:public-info-viewer" }, [group("system:authenticated"), group("system:unauthenticated")]),
      // kubeadm (§2): kubeadm:cluster-admins gets cluster-admin.
      binding("kubeadm:cluster-admins", { kind: "ClusterRole", name: "cluster-admin" }, [group("kubeadm:cluster-admins")]),
      // kubeadm (§3.3).
      binding("kubeadm:kubelet-bootstrap", { kind: "ClusterRole", name: "system:node-bootstrapper" }, [group(NODE_TOKEN_GROUP)]),
      binding("kubeadm:node-autoapprove-bootstrap", { kind: "ClusterRole", name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient" }, [group(NODE_TOKEN_GROUP)]),
      binding("kubeadm:node-autoapprove-certificate-rotation", { kind: "ClusterRole", name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient" }, [group("system:nodes")]),
      binding("kubeadm:get-nodes", { kind: "ClusterRole", name: "kubeadm:get-nodes" }, [group(NODE_TOKEN_GROUP)]),
    ],
    roles: [
      role("kube-system", "kubeadm:kubelet-config", [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["kubelet-config"], verbs: ["get"] }]),
      role("kube-system", "kubeadm:nodes-kubeadm-config", [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["kubeadm-config"], verbs: ["get"] }]),
      role("kube-system", "kube-proxy", [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["kube-proxy"], verbs: ["get"] }]),
      role("kube-system", "kubeadm:kubeadm-certs", [{ apiGroups: [""], resources: ["secrets"], resourceNames: ["kubeadm-certs"], verbs: ["get"] }]),
      role("kube-public", "kubeadm:bootstrap-signer-clusterinfo", [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["cluster-info"], verbs: ["get"] }]),
    ],
    roleBindings: [
      binding("kubeadm:kubelet-config", { kind: "Role", name: "kubeadm:kubelet-config" }, [group("system:nodes"), group(NODE_TOKEN_GROUP)], "kube-system"),
      binding("kubeadm:nodes-kubeadm-config", { kind: "Role", name: "kubeadm:nodes-kubeadm-config" }, [group(NODE_TOKEN_GROUP), group("system:nodes")], "kube-system"),
      binding("kube-proxy", { kind: "Role", name: "kube-proxy" }, [group(NODE_TOKEN_GROUP)], "kube-system"),
      binding("kubeadm:kubeadm-certs", { kind: "Role", name: "kubeadm:kubeadm-certs" }, [group(NODE_TOKEN_GROUP)], "kube-system"),
      binding("kubeadm:bootstrap-signer-clusterinfo", { kind: "Role", name: "kubeadm:bootstrap-signer-clusterinfo" }, [user("system:anonymous")], "kube-public"),
    ],
  };
}

// evaluation_helpers.go
const verbMatches = (rule: PolicyRule, verb: string) => rule.verbs.some((candidate) => candidate === "*" || candidate === verb);
const apiGroupMatches = (rule: PolicyRule, group: string) => (rule.apiGroups ?? []).some((candidate) => candidate === "*" || candidate === group);
function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const candidate of rule.resources ?? []) {
    if (candidate === "*" || candidate === combined) return true;
    if (subresource && candidate.length === subresource.length + 2 && candidate.startsWith("*/") && candidate.endsWith(subresource)) return true;
  }
  return false;
}
const resourceNameMatches = (rule: PolicyRule, name: string) => !rule.resourceNames?.length || rule.resourceNames.includes(name);
function nonResourceUrlMatches(rule: PolicyRule, path: string): boolean {
  for (const candidate of rule.nonResourceURLs ?? []) {
    if (candidate === "*" || candidate === path) return true;
    if (candidate.endsWith("*") && path.startsWith(candidate.replace(/\*+$/, ""))) return true;
  }
  return false;
}

function ruleAllows(attributes: RequestAttributes, rule: PolicyRule): boolean {
  if (attributes.resourceRequest) {
    const combined = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
    return verbMatches(rule, attributes.verb) && apiGroupMatches(rule, attributes.apiGroup) && resourceMatches(rule, combined, attributes.subresource) && resourceNameMatches(rule, attributes.name);
  }
  return verbMatches(rule, attributes.verb) && nonResourceUrlMatches(rule, attributes.path);
}

/** rbac.go appliesToUser: User by name, Group by membership, ServiceAccount by its user name (namespace defaulting to the binding's). */
function appliesTo(user: RequestAttributes["user"], subjects: Subject[] | undefined, bindingNamespace: string): boolean {
  for (const subject of subjects ?? []) {
    if (subject.kind === "User" && subject.name === user.name) return true;
    if (subject.kind === "Group" && user.groups.includes(subject.name)) return true;
    if (subject.kind === "ServiceAccount") {
      const namespace = subject.namespace || bindingNamespace;
      if (namespace && user.name === `system:serviceaccount:${namespace}:${subject.name}`) return true;
    }
  }
  return false;
}

/** responsewriters.forbiddenMessage. */
export function forbiddenMessage(attributes: RequestAttributes): string {
  const who = JSON.stringify(attributes.user.name);
  if (!attributes.resourceRequest) return `User ${who} cannot ${attributes.verb} path ${JSON.stringify(attributes.path)}`;
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  if (attributes.namespace) return `User ${who} cannot ${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.apiGroup)} in the namespace ${JSON.stringify(attributes.namespace)}`;
  return `User ${who} cannot ${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.apiGroup)} at the cluster scope`;
}

export function authorize(store: ObjectStore, attributes: RequestAttributes): Decision {
  // authorizerfactory.NewPrivilegedGroups(system:masters), ahead of Node and RBAC.
  if (attributes.user.groups.includes("system:masters")) return { allowed: true, message: "", by: "group system:masters" };
  const errors: string[] = [];
  const rulesOf = (kind: "ClusterRole" | "Role", name: string, namespace: string): PolicyRule[] | undefined => {
    const found = kind === "ClusterRole" ? store.get("clusterroles", undefined, name) : store.get("roles", namespace, name);
    if (!found) {
      errors.push(kind === "ClusterRole" ? `clusterrole.rbac.authorization.k8s.io ${JSON.stringify(name)} not found` : `role.rbac.authorization.k8s.io ${JSON.stringify(name)} not found`);
      return undefined;
    }
    return (found.rules as PolicyRule[] | undefined) ?? [];
  };
  for (const crb of store.list("clusterrolebindings")) {
    if (!appliesTo(attributes.user, crb.subjects as Subject[] | undefined, "")) continue;
    const roleRef = crb.roleRef as { kind: "ClusterRole"; name: string };
    const rules = rulesOf("ClusterRole", roleRef.name, "");
    if (rules?.some((rule) => ruleAllows(attributes, rule))) return { allowed: true, message: "", by: `ClusterRoleBinding ${JSON.stringify(crb.metadata.name)} of ClusterRole ${JSON.stringify(roleRef.name)}` };
  }
  if (attributes.resourceRequest && attributes.namespace) {
    for (const rb of store.list("rolebindings", attributes.namespace)) {
      if (!appliesTo(attributes.user, rb.subjects as Subject[] | undefined, attributes.namespace)) continue;
      const roleRef = rb.roleRef as { kind: "ClusterRole" | "Role"; name: string };
      const rules = rulesOf(roleRef.kind, roleRef.name, attributes.namespace);
      if (rules?.some((rule) => ruleAllows(attributes, rule))) return { allowed: true, message: "", by: `RoleBinding ${JSON.stringify(`${attributes.namespace}/${rb.metadata.name}`)} of ${roleRef.kind} ${JSON.stringify(roleRef.name)}` };
    }
  }
  // RBAC's reason: the errors met on the way (utilerrors.NewAggregate: one bare, several in brackets).
  const reason = errors.length === 0 ? "" : `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(", ")}]`}`;
  const message = forbiddenMessage(attributes);
  return { allowed: false, message: reason ? `${message}: ${reason}` : message };
}
