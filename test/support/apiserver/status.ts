/**
 * metav1.Status bodies as kube-apiserver writes them (k8s.io/apimachinery
 * pkg/api/errors): field order kind, apiVersion, metadata, status, message,
 * reason, details, code — the order Go's encoding/json gives the struct — and
 * `details` only where the Go constructor sets a non-nil Details.
 */

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A qualified resource, "secrets" or "clusterrolebindings.rbac.authorization.k8s.io" (schema.GroupResource.String()). */
export interface GroupResource {
  group: string;
  resource: string;
}

export const qualified = ({ group, resource }: GroupResource): string => (group ? `${resource}.${group}` : resource);

/** Details with Go's omitempty: empty fields left out, `{}` when all are empty. */
function details(fields: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (fields.name) out.name = fields.name;
  if (fields.group) out.group = fields.group;
  if (fields.kind) out.kind = fields.kind;
  if (fields.uid) out.uid = fields.uid;
  if (fields.causes?.length) out.causes = fields.causes;
  return out;
}

function failure(code: number, reason: string, message: string, withDetails?: StatusDetails): Status {
  const status: Status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (!withDetails) return status;
  // Rebuild so `details` sits before `code`, as Go writes it.
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, details: details(withDetails), code };
}

/**
 * 401 for a request whose credentials no authenticator accepted
 * (endpoints/filters/authentication.go: NewUnauthorized("Unauthorized")), kubeadm-facts §3.2.
 * Serialized: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}
 */
export const unauthorized = (): Status => failure(401, "Unauthorized", "Unauthorized");

/** The exact 401 body text of kubeadm-facts §3.2 (the server adds a newline, as Go's json.Encoder does). */
export const UNAUTHORIZED_BODY = JSON.stringify(unauthorized());

/**
 * apierrors.NewForbidden as responsewriters.Forbidden uses it: "<resource> is
 * forbidden: <message>", "<resource> \"<name>\" is forbidden: …", or
 * "forbidden: …" for paths, with details {name, group, kind: <resource>}.
 * kubeadm-facts §3.2 gives this shape as typical, NOT VERIFIED against a live
 * server; it is written here from the apimachinery source as remembered.
 */
export function forbidden(resource: GroupResource | undefined, name: string, message: string): Status {
  if (!resource || !resource.resource) return failure(403, "Forbidden", `forbidden: ${message}`, {});
  const what = qualified(resource);
  const text = name ? `${what} ${JSON.stringify(name)} is forbidden: ${message}` : `${what} is forbidden: ${message}`;
  return failure(403, "Forbidden", text, { name, group: resource.group, kind: resource.resource });
}

/** apierrors.NewNotFound: `secrets "x" not found`. */
export const notFound = (resource: GroupResource, name: string): Status =>
  failure(404, "NotFound", `${qualified(resource)} ${JSON.stringify(name)} not found`, { name, group: resource.group, kind: resource.resource });

/** The router's 404 for a path it does not serve (genericapiserver's NotFound handler). */
export const pathNotFound = (): Status => failure(404, "NotFound", "the server could not find the requested resource", {});

/** apierrors.NewAlreadyExists: `secrets "x" already exists`, 409. */
export const alreadyExists = (resource: GroupResource, name: string): Status =>
  failure(409, "AlreadyExists", `${qualified(resource)} ${JSON.stringify(name)} already exists`, { name, group: resource.group, kind: resource.resource });

/** apierrors.NewConflict for a stale resourceVersion on update. */
export const conflict = (resource: GroupResource, name: string): Status =>
  failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(resource)} ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: resource.group, kind: resource.resource },
  );

export const badRequest = (message: string): Status => failure(400, "BadRequest", message);

export const methodNotAllowed = (): Status => failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});

export const unsupportedMediaType = (contentType: string): Status =>
  failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${JSON.stringify(contentType)})`);

export interface FieldError {
  /** field.ErrorType: "FieldValueInvalid", "FieldValueRequired", … */
  type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueNotSupported" | "FieldValueForbidden";
  field: string;
  /** The Go field.Error.Error() text after "<field>: ". */
  detail: string;
  value?: unknown;
}

const fieldErrorText = (error: FieldError): string => {
  switch (error.type) {
    case "FieldValueRequired":
      return `${error.field}: Required value${error.detail ? `: ${error.detail}` : ""}`;
    case "FieldValueInvalid":
      return `${error.field}: Invalid value: ${typeof error.value === "string" ? JSON.stringify(error.value) : String(error.value)}: ${error.detail}`;
    case "FieldValueNotSupported":
      return `${error.field}: Unsupported value: ${JSON.stringify(error.value)}${error.detail ? `: ${error.detail}` : ""}`;
    case "FieldValueForbidden":
      return `${error.field}: Forbidden: ${error.detail}`;
  }
};

/** apierrors.NewInvalid: `Secret "x" is invalid: <err>` or `… is invalid: [<err>, <err>]`, 422. */
export function invalid(kind: { group: string; kind: string }, name: string, errors: FieldError[]): Status {
  const texts = errors.map(fieldErrorText);
  const what = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
  const message = `${what} ${JSON.stringify(name)} is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(", ")}]`}`;
  return failure(422, "Invalid", message, {
    name,
    group: kind.group,
    kind: kind.kind,
    causes: errors.map((error, index) => ({ reason: error.type, message: texts[index]!.slice(error.field.length + 2), field: error.field })),
  });
}

/** The Success Status a DELETE of an object without finalizers returns (generic registry, ReturnDeletedObject false). */
export const deleted = (resource: GroupResource, name: string, uid: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Success",
  details: details({ name, group: resource.group, kind: resource.resource, uid }),
});
