/**
 * apiserver/pkg/endpoints/request/requestinfo.go: what a URL asks for, as the
 * authorizer sees it. Paths with fewer than three segments, and anything not
 * under /api or /apis, are non-resource requests whose verb is the lower-cased
 * method; /apis/<group>/<version> (and /api/v1) count as non-resource too.
 */

export interface RequestInfo {
  resourceRequest: boolean;
  path: string;
  verb: string;
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** The name came from a list's fieldSelector metadata.name=… (it narrows authorization, not the route). */
  nameFromSelector: boolean;
}

const splitPath = (path: string): string[] => {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? [] : trimmed.split("/");
};

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** path.IsValidPathSegmentName. */
const validSegment = (name: string) => name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = { resourceRequest: false, path, verb: method.toLowerCase(), apiPrefix: "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "", nameFromSelector: false };
  let parts = splitPath(path);
  if (parts.length < 3) return info;
  if (parts[0] !== "api" && parts[0] !== "apis") return info;
  const prefix = parts[0];
  parts = parts.slice(1);
  let group = "";
  if (prefix === "apis") {
    if (parts.length < 3) return info;
    group = parts[0]!;
    parts = parts.slice(1);
  }
  const resource: RequestInfo = { ...info, resourceRequest: true, apiPrefix: prefix, apiGroup: group, apiVersion: parts[0]! };
  parts = parts.slice(1);
  switch (method) {
    case "POST":
      resource.verb = "create";
      break;
    case "GET":
    case "HEAD":
      resource.verb = "get";
      break;
    case "PUT":
      resource.verb = "update";
      break;
    case "PATCH":
      resource.verb = "patch";
      break;
    case "DELETE":
      resource.verb = "delete";
      break;
    default:
      resource.verb = "";
  }
  if (parts[0] === "namespaces") {
    if (parts.length > 1) {
      resource.namespace = parts[1]!;
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  if (parts.length >= 3) resource.subresource = parts[2]!;
  if (parts.length >= 2) resource.name = parts[1]!;
  if (parts.length >= 1) resource.resource = parts[0]!;
  if (!resource.name && resource.verb === "get") {
    const watch = query.get("watch");
    resource.verb = watch === "true" || watch === "1" ? "watch" : "list";
    const selected = /(?:^|,)metadata\.name==?([^,]*)(?:,|$)/.exec(query.get("fieldSelector") ?? "")?.[1];
    if (selected && validSegment(selected)) {
      resource.name = selected;
      resource.nameFromSelector = true;
    }
  }
  if (!resource.name && resource.verb === "delete") resource.verb = "deletecollection";
  return resource;
}
