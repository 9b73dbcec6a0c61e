import { KpkiError } from "../../errors.js";
import type { ApiTarget } from "./apiclient.js";
import { api, expectStatus } from "./cluster.js";
import { manifestObjects, serviceAccountManifest, type ServiceAccountSpec } from "./manifests.js";

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function checkObjectName(value: string, flag: string): string {
  if (!NAME.test(value)) throw new KpkiError("usage", `${flag} "${value}" is not a valid Kubernetes name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`);
  return value;
}

function collectionPath(object: Record<string, unknown>): string {
  const metadata = object.metadata as { namespace?: string };
  switch (object.kind) {
    case "ServiceAccount":
      return `/api/v1/namespaces/${metadata.namespace}/serviceaccounts`;
    case "RoleBinding":
      return `/apis/rbac.authorization.k8s.io/v1/namespaces/${metadata.namespace}/rolebindings`;
    case "ClusterRoleBinding":
      return "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
    default:
      throw new Error(`no path for ${String(object.kind)}`);
  }
}

/**
 * Creates the ServiceAccount and its binding from templates/serviceaccount.yaml.
 * Objects that exist already are reported as unchanged, so running it twice is safe.
 */
export async function createServiceAccount(target: ApiTarget, spec: ServiceAccountSpec) {
  const results: { kind: string; name: string; action: "created" | "exists" }[] = [];
  for (const object of manifestObjects(serviceAccountManifest(spec))) {
    const name = (object.metadata as { name: string }).name;
    const response = await api.post(target, collectionPath(object), object);
    if (response.status === 409) results.push({ kind: String(object.kind), name, action: "exists" });
    else {
      await expectStatus(Promise.resolve(response), [200, 201], `creating ${String(object.kind)} ${name}`);
      results.push({ kind: String(object.kind), name, action: "created" });
    }
  }
  return results;
}

/** A token for a ServiceAccount through the TokenRequest API (what kubectl create token does). */
export async function requestServiceAccountToken(target: ApiTarget, namespace: string, name: string, seconds: number, audiences: readonly string[] = []) {
  const response = await api.post(target, `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: seconds, ...(audiences.length ? { audiences } : {}) },
  });
  if (response.status === 404) throw new KpkiError("input", `there is no ServiceAccount ${namespace}/${name}: create it with kpki sa create ${name} -n ${namespace}`);
  await expectStatus(Promise.resolve(response), [200, 201], `requesting a token for ${namespace}/${name}`);
  const status = (response.body as { status?: { token?: string; expirationTimestamp?: string } }).status;
  if (!status?.token) throw new KpkiError("input", "the TokenRequest answer holds no token");
  return { token: status.token, expires: status.expirationTimestamp };
}
